-- CreateTable
CREATE TABLE "used_sso_tokens" (
    "token_hash" TEXT NOT NULL,
    "expires_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "used_sso_tokens_pkey" PRIMARY KEY ("token_hash")
);

-- CreateIndex
CREATE INDEX "used_sso_tokens_expires_at_idx" ON "used_sso_tokens"("expires_at");


-- CreateTable
CREATE TABLE "usage_samples" (
    "id" BIGSERIAL NOT NULL,
    "resource_id" TEXT NOT NULL,
    "taken_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "disk_bytes" BIGINT NOT NULL,
    "memory_bytes" BIGINT NOT NULL,
    "connections" INTEGER NOT NULL,

    CONSTRAINT "usage_samples_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "usage_samples_resource_id_taken_at_idx" ON "usage_samples"("resource_id", "taken_at");

-- AddForeignKey
ALTER TABLE "usage_samples" ADD CONSTRAINT "usage_samples_resource_id_fkey" FOREIGN KEY ("resource_id") REFERENCES "resources"("id") ON DELETE RESTRICT ON UPDATE CASCADE;


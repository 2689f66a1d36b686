-- AlterEnum
ALTER TYPE "OperationKind" ADD VALUE 'sync_users';

-- CreateTable
CREATE TABLE "database_users" (
    "id" TEXT NOT NULL,
    "resource_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "read_only" BOOLEAN NOT NULL,
    "password" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "database_users_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "database_users_resource_id_name_key" ON "database_users"("resource_id", "name");

-- AddForeignKey
ALTER TABLE "database_users" ADD CONSTRAINT "database_users_resource_id_fkey" FOREIGN KEY ("resource_id") REFERENCES "resources"("id") ON DELETE RESTRICT ON UPDATE CASCADE;


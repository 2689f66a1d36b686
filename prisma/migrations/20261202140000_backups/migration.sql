-- CreateEnum
CREATE TYPE "BackupStatus" AS ENUM ('scheduled', 'running', 'done', 'failed');

-- CreateEnum
CREATE TYPE "BackupMethod" AS ENUM ('periodic', 'manual', 'final');

-- AlterEnum

ALTER TYPE "OperationKind" ADD VALUE 'backup';
ALTER TYPE "OperationKind" ADD VALUE 'restore';

-- AlterEnum
ALTER TYPE "ResourceStatus" ADD VALUE 'restoring';

-- AlterTable
ALTER TABLE "operations" ADD COLUMN     "backup_id" TEXT;

-- AlterTable
ALTER TABLE "resources" ADD COLUMN     "backup_hour" INTEGER;

-- CreateTable
CREATE TABLE "backups" (
    "id" TEXT NOT NULL,
    "resource_id" TEXT NOT NULL,
    "method" "BackupMethod" NOT NULL,
    "status" "BackupStatus" NOT NULL DEFAULT 'scheduled',
    "format" TEXT NOT NULL,
    "object_key" TEXT,
    "size" BIGINT,
    "content_size" BIGINT,
    "sha256" TEXT,
    "error" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMP(3),
    "finished_at" TIMESTAMP(3),

    CONSTRAINT "backups_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "backups_resource_id_created_at_idx" ON "backups"("resource_id", "created_at");

-- CreateIndex
CREATE INDEX "backups_status_idx" ON "backups"("status");

-- AddForeignKey
ALTER TABLE "operations" ADD CONSTRAINT "operations_backup_id_fkey" FOREIGN KEY ("backup_id") REFERENCES "backups"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "backups" ADD CONSTRAINT "backups_resource_id_fkey" FOREIGN KEY ("resource_id") REFERENCES "resources"("id") ON DELETE RESTRICT ON UPDATE CASCADE;


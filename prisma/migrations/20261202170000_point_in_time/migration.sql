-- AlterTable
ALTER TABLE "operations" ADD COLUMN     "target_time" TIMESTAMP(3);

-- CreateTable
CREATE TABLE "base_backups" (
    "backup_id" TEXT NOT NULL,
    "resource_id" TEXT NOT NULL,
    "volume_name" TEXT NOT NULL,
    "object_key" TEXT NOT NULL,
    "size" BIGINT NOT NULL,
    "content_size" BIGINT NOT NULL,
    "sha256" TEXT NOT NULL,
    "wal_start" TEXT NOT NULL,
    "started_at" TIMESTAMP(3) NOT NULL,
    "finished_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "base_backups_pkey" PRIMARY KEY ("backup_id")
);

-- CreateTable
CREATE TABLE "archived_logs" (
    "id" BIGSERIAL NOT NULL,
    "resource_id" TEXT NOT NULL,
    "volume_name" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "object_key" TEXT NOT NULL,
    "size" BIGINT NOT NULL,
    "content_size" BIGINT NOT NULL,
    "sha256" TEXT NOT NULL,
    "archived_at" TIMESTAMP(3) NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "archived_logs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "base_backups_resource_id_finished_at_idx" ON "base_backups"("resource_id", "finished_at");

-- CreateIndex
CREATE INDEX "archived_logs_resource_id_archived_at_idx" ON "archived_logs"("resource_id", "archived_at");

-- CreateIndex
CREATE UNIQUE INDEX "archived_logs_resource_id_volume_name_name_key" ON "archived_logs"("resource_id", "volume_name", "name");

-- AddForeignKey
ALTER TABLE "base_backups" ADD CONSTRAINT "base_backups_backup_id_fkey" FOREIGN KEY ("backup_id") REFERENCES "backups"("id") ON DELETE CASCADE ON UPDATE CASCADE;


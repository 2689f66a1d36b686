-- AlterTable
ALTER TABLE "resources" ADD COLUMN     "seed_backup_id" TEXT,
ADD COLUMN     "seeded_at" TIMESTAMP(3);

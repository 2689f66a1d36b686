-- AlterTable
ALTER TABLE "resources" ADD COLUMN     "seed_resource_id" TEXT,
ADD COLUMN     "seed_time" TIMESTAMP(3);


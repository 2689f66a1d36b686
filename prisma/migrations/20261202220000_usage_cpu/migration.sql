-- AlterTable
ALTER TABLE "usage_samples" ADD COLUMN     "cpu_nanos" BIGINT;


-- AlterTable
ALTER TABLE "resources" ADD COLUMN     "image" TEXT;


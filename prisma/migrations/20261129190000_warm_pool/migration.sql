-- AlterEnum
-- This migration adds more than one value to an enum.
-- With PostgreSQL versions 11 and earlier, this is not possible
-- in a single migration. This can be worked around by creating
-- multiple migrations, each migration adding only one value to
-- the enum.


ALTER TYPE "ResourceStatus" ADD VALUE 'warming';
ALTER TYPE "ResourceStatus" ADD VALUE 'warm';

-- AlterTable
ALTER TABLE "resources" ADD COLUMN     "claimed_at" TIMESTAMP(3),
ADD COLUMN     "credentials_rotated_at" TIMESTAMP(3),
ADD COLUMN     "next_credentials" TEXT;


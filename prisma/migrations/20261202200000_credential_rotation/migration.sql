-- AlterEnum
ALTER TYPE "OperationKind" ADD VALUE 'rotate_credentials';

-- AlterTable
ALTER TABLE "resources" ADD COLUMN     "retiring_credentials" TEXT;


-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "ResourceStatus" AS ENUM ('provisioning', 'provisioned', 'changing_plan', 'deprovisioning', 'deprovisioned', 'failed');

-- CreateEnum
CREATE TYPE "OperationKind" AS ENUM ('provision', 'change_plan', 'deprovision');

-- CreateEnum
CREATE TYPE "OperationStatus" AS ENUM ('pending', 'running', 'succeeded', 'failed');

-- CreateTable
CREATE TABLE "resources" (
    "id" TEXT NOT NULL,
    "addon" TEXT NOT NULL,
    "platform_uuid" TEXT,
    "app_id" TEXT NOT NULL,
    "plan" TEXT NOT NULL,
    "options" JSONB NOT NULL DEFAULT '{}',
    "status" "ResourceStatus" NOT NULL,
    "status_reason" TEXT,
    "docker_host" TEXT NOT NULL DEFAULT 'local',
    "public_host" TEXT,
    "port" INTEGER,
    "container_name" TEXT,
    "volume_name" TEXT,
    "credentials" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,
    "provisioned_at" TIMESTAMP(3),
    "deprovisioned_at" TIMESTAMP(3),

    CONSTRAINT "resources_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "operations" (
    "id" TEXT NOT NULL,
    "seq" SERIAL NOT NULL,
    "resource_id" TEXT NOT NULL,
    "kind" "OperationKind" NOT NULL,
    "target_plan" TEXT,
    "status" "OperationStatus" NOT NULL DEFAULT 'pending',
    "step" TEXT,
    "error" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMP(3),
    "finished_at" TIMESTAMP(3),

    CONSTRAINT "operations_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "resources_status_idx" ON "resources"("status");

-- CreateIndex
CREATE UNIQUE INDEX "resources_addon_platform_uuid_key" ON "resources"("addon", "platform_uuid");

-- CreateIndex
CREATE UNIQUE INDEX "resources_docker_host_port_key" ON "resources"("docker_host", "port");

-- CreateIndex
CREATE INDEX "operations_resource_id_seq_idx" ON "operations"("resource_id", "seq");

-- CreateIndex
CREATE INDEX "operations_status_idx" ON "operations"("status");

-- AddForeignKey
ALTER TABLE "operations" ADD CONSTRAINT "operations_resource_id_fkey" FOREIGN KEY ("resource_id") REFERENCES "resources"("id") ON DELETE RESTRICT ON UPDATE CASCADE;


-- CreateEnum
CREATE TYPE "ContainmentEventKind" AS ENUM ('oom', 'exit');

-- AlterEnum
ALTER TYPE "ResourceStatus" ADD VALUE 'degraded';

-- CreateTable
CREATE TABLE "containment_events" (
    "id" BIGSERIAL NOT NULL,
    "event_key" TEXT NOT NULL,
    "resource_id" TEXT NOT NULL,
    "addon" TEXT NOT NULL,
    "container_name" TEXT NOT NULL,
    "kind" "ContainmentEventKind" NOT NULL,
    "exit_code" INTEGER,
    "reason" TEXT NOT NULL,
    "occurred_at" TIMESTAMP(3) NOT NULL,
    "recorded_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "recovered_at" TIMESTAMP(3),

    CONSTRAINT "containment_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "containment_events_event_key_key" ON "containment_events"("event_key");

-- CreateIndex
CREATE INDEX "containment_events_resource_id_occurred_at_idx" ON "containment_events"("resource_id", "occurred_at");

-- CreateIndex
CREATE INDEX "containment_events_occurred_at_idx" ON "containment_events"("occurred_at");

-- AddForeignKey
ALTER TABLE "containment_events" ADD CONSTRAINT "containment_events_resource_id_fkey" FOREIGN KEY ("resource_id") REFERENCES "resources"("id") ON DELETE RESTRICT ON UPDATE CASCADE;


import type { OperationKind } from "@berth/db";
import type { JobProgress } from "@berth/jobs";
import { stepPercent, type OperationStep } from "@berth/operations";
import type { Job } from "bullmq";

/**
 * Tells an operation's job where the operation stands, for bull-board and
 * `berth jobs follow`: progress `{step, percent}` and one timestamped log line
 * per attempt, step and outcome. Step names, counts and failure reasons only
 * (reasons are redacted by the caller): a job's data, progress and log never
 * hold a secret.
 */
export class JobReport {
  private percent = 0;

  constructor(
    private readonly job: Pick<Job, "log" | "updateProgress">,
    private readonly kind: OperationKind,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Every attempt runs the steps from the first (each is idempotent): progress starts over. */
  async started(attempt: number): Promise<void> {
    this.percent = 0;
    await this.progress({ step: "started", percent: 0 });
    await this.log(`attempt ${attempt}: ${this.kind.replace("_", " ")} started`);
  }

  /** A step of the catalog (`OPERATION_KINDS` in @berth/operations): its percent is the share of the path's steps before it. */
  async step(name: OperationStep): Promise<void> {
    this.percent = stepPercent(this.kind, name) ?? this.percent;
    await this.progress({ step: name, percent: this.percent });
    await this.log(`step ${name} (${this.percent}%)`);
  }

  async succeeded(): Promise<void> {
    this.percent = 100;
    await this.progress({ step: "done", percent: 100 });
    await this.log("succeeded");
  }

  /** The progress stays at the step that failed: that is where it stands. */
  async failed(attempt: number, reason: string, final: boolean): Promise<void> {
    await this.log(`attempt ${attempt} failed${final ? "" : ", to be retried"}: ${reason}`);
  }

  private progress(progress: JobProgress): Promise<void> {
    return this.job.updateProgress(progress);
  }

  private async log(line: string): Promise<void> {
    await this.job.log(`${this.now().toISOString()} ${line}`);
  }
}

import { z } from "zod";

/**
 * What an operation job reports with `updateProgress` at each step: the step it
 * has reached and how far along its kind's steps that is. Names of steps only:
 * progress, like job data and logs, never holds a secret.
 */
export const jobProgressSchema = z.object({ step: z.string(), percent: z.number().min(0).max(100) });

export type JobProgress = z.infer<typeof jobProgressSchema>;

/** The job's progress, or undefined when it has reported none (yet) or something else. */
export function readJobProgress(progress: unknown): JobProgress | undefined {
  const parsed = jobProgressSchema.safeParse(progress);
  return parsed.success ? parsed.data : undefined;
}

import { UnrecoverableError } from "bullmq";

/** A failure no retry can mend (unknown plan, missing image, a database that never became ready): the job fails at once. */
export class PermanentError extends UnrecoverableError {
  constructor(message: string) {
    super(message);
    this.name = "PermanentError";
  }
}

/**
 * A request declined as asked, with the reason (e.g. a plan whose disk the data does not fit):
 * the operation fails at once with that reason, and the resource stays as it was (not `failed`).
 */
export class RefusedError extends PermanentError {
  constructor(message: string) {
    super(message);
    this.name = "RefusedError";
  }
}

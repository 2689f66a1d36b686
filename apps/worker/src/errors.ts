import { UnrecoverableError } from "bullmq";

/** A failure no retry can mend (unknown plan, missing image, a database that never became ready): the job fails at once. */
export class PermanentError extends UnrecoverableError {
  constructor(message: string) {
    super(message);
    this.name = "PermanentError";
  }
}

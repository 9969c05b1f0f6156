// Errors that are expected conditions of a machine, not bugs: a port another program holds, a data dir that
// holds something else, a wrong password, a server that would not stop. Their message says what was wrong
// and what to do, so `powerhouse up` prints them as one line, without a stack trace.

export class ActionableError extends Error {
  override name = 'ActionableError';
  /** The server log that tells more (its tail is often already in the message). */
  readonly logFile?: string;

  constructor(message: string, opts: { logFile?: string } = {}) {
    super(message);
    this.logFile = opts.logFile;
  }
}

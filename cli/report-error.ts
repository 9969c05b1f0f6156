// How a command that failed says so: an expected condition (a port in use, a data dir holding something
// else, a wrong password, a server that will not stop) as one line that says what to do; a bug as one line
// too, with its stack trace when POWERHOUSE_DEBUG=1.
import { UploadError } from '../ingest/client/errors';
import { ActionableError } from '../stacks/local-processes/actionable-error';

// SQLSTATE classes that describe the server's situation rather than our SQL: connection (08), auth (28),
// unknown database (3D), resources (53), operator intervention / starting up (57).
const SERVER_CONDITION = /^(08|28|3D|53|57)[0-9A-Z]{3}$/;

export function isExpectedFailure(err: unknown): err is Error {
  if (err instanceof ActionableError) return true;
  // The SDK's errors are the endpoint's answers (refused, unreachable, untrusted certificate), not bugs.
  if (err instanceof UploadError) return true;
  if (!(err instanceof Error)) return false;
  const { code, syscall } = err as NodeJS.ErrnoException;
  if (typeof code !== 'string') return false;
  // A system call that failed (EADDRINUSE, EACCES, ENOSPC, …) is the machine's state, not a bug.
  if (typeof syscall === 'string' && /^E[A-Z]+$/.test(code)) return true;
  return SERVER_CONDITION.test(code);
}

/**
 * One line for an expected failure: the message's first line, plus the line of a server's log tail (or a
 * tool's output) in the message that says why, plus where the full log is.
 */
export function failureLine(err: Error): string {
  const [first, ...rest] = err.message.split('\n');
  let line = first;
  if (rest.length > 0) {
    const cause =
      rest.find((l) => /\b(FATAL|PANIC)\b/.test(l)) ?? [...rest].reverse().find((l) => /\berror\b/i.test(l));
    line = line.replace(/[.:]?\s*(Log tail:)?\s*$/, '');
    if (cause) line += `: ${cause.replace(/^.*?\b(FATAL|PANIC|ERROR|error)\b:?\s*/, '').trim()}`;
  }
  const { code, address, port } = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (code === 'EADDRINUSE' && port !== undefined) {
    line = `${address ?? '127.0.0.1'}:${port} is already in use by another program: stop it or choose another port`;
  }
  if (err instanceof ActionableError && err.logFile) line += ` (log: ${err.logFile})`;
  return line;
}

/** Writes the failure of `command` to stderr (see above) and exits 1. */
export function exitWithFailure(command: string, err: unknown): never {
  const debug = /^(1|true|yes)$/i.test(process.env.POWERHOUSE_DEBUG ?? '');
  const stack = err instanceof Error ? (err.stack ?? String(err)) : String(err);
  if (isExpectedFailure(err)) {
    process.stderr.write(`${command}: ${failureLine(err)}\n`);
    if (debug) process.stderr.write(`${stack}\n`);
  } else {
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    process.stderr.write(`${command}: unexpected error: ${message}\n`);
    process.stderr.write(
      debug ? `${stack}\n` : '  (a bug: rerun with POWERHOUSE_DEBUG=1 to see its stack trace)\n',
    );
  }
  process.exit(1);
}

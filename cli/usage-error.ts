// Usage errors: the command was called wrongly (a flag, an argument, an input variable). They exit 2 with one
// line that says what was wrong; decided by the error's class, never by its message.
import { TierError } from '../config-templates';
import { StackInputError } from '../stacks/inputs';

/** A flag or argument the command cannot use; the message names it and what is allowed. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Ours, a tier the flags describe that cannot be tuned (TierError: the message names the input), and a stack
 * input that synth refuses (StackInputError). Commander's own parse errors are handled where it is run.
 */
export function isUsageError(err: unknown): err is Error {
  return err instanceof UsageError || err instanceof TierError || err instanceof StackInputError;
}

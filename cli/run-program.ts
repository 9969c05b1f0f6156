// How a `powerhouse` program ends, the same for the full CLI (main.ts) and the host's (host-main.ts): usage
// errors exit 2 with one line, failures exit 1 with one line (report-error.ts), never an unhandled rejection.
import { type Command, CommanderError } from 'commander';
import { exitWithFailure } from './report-error';
import { isUsageError } from './usage-error';

export async function runProgram(program: Command, argv: readonly string[]): Promise<void> {
  const override = (c: Command): void => {
    c.exitOverride();
    c.commands.forEach(override);
  };
  override(program);
  try {
    await program.parseAsync(argv as string[]);
  } catch (e) {
    // Commander has printed its own message (or the help, exit code 0).
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
    if (isUsageError(e)) {
      process.stderr.write(`powerhouse: ${e.message}\n`);
      process.exit(2);
    }
    exitWithFailure('powerhouse', e);
  }
}

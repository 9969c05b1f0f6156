// The `powerhouse` command. Each subcommand lives in cli/commands/; usage errors exit 2 with one line.
import { Command, CommanderError } from 'commander';
import { backupCommands } from './commands/backup';
import { planCommand } from './commands/plan';
import { renderCommand } from './commands/render';
import { synthCommand } from './commands/synth';
import { tuneCommand } from './commands/tune';
import { upCommand } from './commands/up';
import { uploadCommand } from './commands/upload';
import { exitWithFailure } from './report-error';
import { isUsageError } from './usage-error';

export function buildProgram(): Command {
  const program = new Command('powerhouse')
    .description('Tuned PostgreSQL 16 + PgBouncer + COPY ingest for bulk uploads')
    .showHelpAfterError('(run with --help for usage)');
  program.addCommand(tuneCommand());
  program.addCommand(planCommand());
  program.addCommand(renderCommand());
  program.addCommand(upCommand());
  program.addCommand(uploadCommand());
  program.addCommand(synthCommand());
  for (const c of backupCommands()) program.addCommand(c);
  return program;
}

export async function main(argv = process.argv): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  for (const c of program.commands) c.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    // Commander has printed its own message (or the help, exit code 0).
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
    if (isUsageError(e)) {
      process.stderr.write(`powerhouse: ${e.message}\n`);
      process.exit(2);
    }
    // Never an unhandled rejection (Node would print the stack of an expected condition): one line, exit 1.
    exitWithFailure('powerhouse', e);
  }
}

if (require.main === module) void main();

// The `powerhouse` command. Each subcommand lives in cli/commands/; errors a user can fix exit 2 with one line.
import { Command, CommanderError } from 'commander';
import { TierError } from '../config-templates';
import { planCommand } from './commands/plan';
import { renderCommand } from './commands/render';
import { synthCommand } from './commands/synth';
import { tuneCommand } from './commands/tune';
import { upCommand } from './commands/up';
import { uploadCommand } from './commands/upload';
import { exitWithFailure } from './report-error';

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
  return program;
}

export async function main(argv = process.argv): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  for (const c of program.commands) c.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
    if (
      e instanceof TierError ||
      (e instanceof Error && /must be|needs|unknown|port number/.test(e.message))
    ) {
      process.stderr.write(`powerhouse: ${(e as Error).message}\n`);
      process.exit(2);
    }
    // Never an unhandled rejection (Node would print the stack of an expected condition): one line, exit 1.
    exitWithFailure('powerhouse', e);
  }
}

if (require.main === module) void main();

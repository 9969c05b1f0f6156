// The `powerhouse` command. Each subcommand lives in cli/commands/; usage errors exit 2 with one line.
import { Command } from 'commander';
import { backupCommands } from './commands/backup';
import { doctorCommand } from './commands/doctor';
import { connectInfoCommand } from './commands/connect-info';
import { planCommand } from './commands/plan';
import { renderCommand } from './commands/render';
import { synthCommand } from './commands/synth';
import { tokenCommand, uploadsCommand } from './commands/tokens';
import { tuneCommand } from './commands/tune';
import { upCommand } from './commands/up';
import { uploadCommand } from './commands/upload';
import { runProgram } from './run-program';

export function buildProgram(): Command {
  const program = new Command('powerhouse')
    .description('Tuned PostgreSQL 16 + PgBouncer + COPY ingest for bulk uploads')
    .showHelpAfterError('(run with --help for usage)');
  program.addCommand(tuneCommand());
  program.addCommand(planCommand());
  program.addCommand(renderCommand());
  program.addCommand(upCommand());
  program.addCommand(uploadCommand());
  program.addCommand(doctorCommand());
  program.addCommand(connectInfoCommand());
  program.addCommand(tokenCommand());
  program.addCommand(uploadsCommand());
  program.addCommand(synthCommand());
  for (const c of backupCommands()) program.addCommand(c);
  return program;
}

export async function main(argv = process.argv): Promise<void> {
  await runProgram(buildProgram(), argv);
}

if (require.main === module) void main();

// `powerhouse` as a db-powerhouse host has it (/usr/local/bin/powerhouse, one bundled file): the ops commands
// that run on the server itself. The same command code as the full CLI (cli/main.ts).
import { Command } from 'commander';
import { backupCommands } from './commands/backup';
import { runProgram } from './run-program';

export async function hostMain(argv = process.argv): Promise<void> {
  const program = new Command('powerhouse')
    .description('db-powerhouse host operations: backups and restores')
    .showHelpAfterError('(run with --help for usage)');
  for (const c of backupCommands()) program.addCommand(c);
  await runProgram(program, argv);
}

if (require.main === module) void hostMain();

// `powerhouse` as a db-powerhouse host has it (/usr/local/bin/powerhouse, one bundled file): the ops commands
// that run on the server itself. The same command code as the full CLI (cli/main.ts).
import { Command, CommanderError } from 'commander';
import { backupCommands } from './commands/backup';
import { exitWithFailure } from './report-error';
import { isUsageError } from './usage-error';

export async function hostMain(argv = process.argv): Promise<void> {
  const program = new Command('powerhouse')
    .description('db-powerhouse host operations: backups and restores')
    .showHelpAfterError('(run with --help for usage)');
  for (const c of backupCommands()) program.addCommand(c.exitOverride());
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
    if (isUsageError(e)) {
      process.stderr.write(`powerhouse: ${e.message}\n`);
      process.exit(2);
    }
    exitWithFailure('powerhouse', e);
  }
}

if (require.main === module) void hostMain();

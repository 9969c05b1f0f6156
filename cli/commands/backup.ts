// Backup commands for ops, the same on a host (/etc/powerhouse/backup.json) and in the restore drill (its own
// profile): `backup`, `backups`, `restore`, `verify`, and `backup-status`, the probe a host's timer runs.
import { Command, Option } from 'commander';
import { counted } from '../../config-templates/plural';
import { loadBackupProfile } from '../../stacks/backup/profile';
import {
  collectStatus,
  dueBackup,
  takeBackup,
  verifyRepository,
  writeStatusFile,
  type BackupProgress,
  type BackupType,
} from '../../stacks/backup/operations';
import { stanzaInfo } from '../../stacks/backup/pgbackrest';
import { restore, startRestoredCopy } from '../../stacks/backup/restore';
import { formatAge, formatBytes } from '../../config-templates/human';
import { formatTable } from './tune';
import { UsageError } from '../usage-error';

const profileOption = () =>
  new Option(
    '--profile <file>',
    'backup profile (default: $POWERHOUSE_BACKUP_CONFIG or /etc/powerhouse/backup.json)',
  );

const out = (text: string): void => void process.stdout.write(text + '\n');
const err = (text: string): void => void process.stderr.write(text + '\n');

function backupNowCommand(): Command {
  return new Command('backup')
    .description('take a backup now (full, differential or incremental), with progress')
    .addOption(new Option('--type <type>', 'backup type').choices(['full', 'diff', 'incr']).default('full'))
    .addOption(profileOption())
    .option('--quiet', 'no progress lines (timers)')
    .option(
      '--if-due',
      'only if one is due: full weekly (or when there is none), differential daily; the type follows',
    )
    .action(async (o: { type: BackupType; profile?: string; quiet?: boolean; ifDue?: boolean }) => {
      const profile = loadBackupProfile(o.profile);
      let type = o.type;
      const info = o.ifDue ? await stanzaInfo(profile) : undefined;
      if (info) {
        const due = info.code === 1 ? 'full' : dueBackup(info);
        if (due === null) return;
        type = due;
      }
      let shown = -1;
      const onProgress = (p: BackupProgress) => {
        if (o.quiet || p.fraction === null) return;
        const pct = Math.floor(p.fraction * 100);
        if (pct === shown) return;
        shown = pct;
        err(`backup: ${pct}% (${formatBytes(p.doneBytes ?? 0)} of ${formatBytes(p.totalBytes ?? 0)})`);
      };
      const { set, seconds } = await takeBackup(profile, type, { onProgress, known: info });
      out(
        `backup ${set.label} (${set.type}) done in ${seconds.toFixed(1)} s: database ${formatBytes(set.sizeBytes)}, ` +
          `${formatBytes(set.repoSizeBytes)} added to ${profile.repository}; WAL ${set.walStart} … ${set.walStop}`,
      );
    });
}

function backupsCommand(): Command {
  return new Command('backups')
    .description('list the backups in the repository: type, time, size, WAL range, age of the newest')
    .addOption(profileOption())
    .option('--json', 'machine-readable output')
    .action(async (o: { profile?: string; json?: boolean }) => {
      const profile = loadBackupProfile(o.profile);
      const info = await stanzaInfo(profile);
      if (o.json) return out(JSON.stringify(info, null, 2));
      if (info.code !== 0 && info.code !== 2)
        throw new Error(
          `the repository ${profile.repository} cannot be read: ${info.repoMessage ?? info.message}`,
        );
      if (info.backups.length === 0)
        return out(`no backups in ${profile.repository} yet (powerhouse backup takes one)`);
      out(
        formatTable(
          info.backups.map((b) => [
            b.label,
            b.type,
            b.stoppedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
            `${Math.round((Date.parse(b.stoppedAt) - Date.parse(b.startedAt)) / 1000)} s`,
            formatBytes(b.sizeBytes),
            formatBytes(b.repoSizeBytes),
            `${b.walStart ?? '–'} … ${b.walStop ?? '–'}`,
          ]),
          ['label', 'type', 'finished (UTC)', 'took', 'database', 'stored', 'WAL needed'],
        ).trimEnd(),
      );
      const newest = info.backups[info.backups.length - 1];
      out(
        `${counted(info.backups.length, 'backup')} in ${profile.repository}; newest ${formatAge((Date.now() - Date.parse(newest.stoppedAt)) / 1000)} old; ` +
          `archived WAL ${info.walMin ?? '–'} … ${info.walMax ?? '–'}${info.backupRunning ? '; a backup is running now' : ''}`,
      );
    });
}

function parseTime(text: string): Date {
  const d = new Date(text);
  if (Number.isNaN(d.getTime()))
    throw new UsageError(`--time "${text}" is not a time: write ISO 8601, e.g. 2026-12-01T14:30:00Z`);
  if (!/(Z|[+-]\d\d:?\d\d)$/i.test(text.trim()))
    throw new UsageError(`--time "${text}" has no time zone: add Z (UTC) or an offset such as +01:00`);
  return d;
}

function portFlag(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new UsageError(`--port must be a port number, got "${text}"`);
  return n;
}

function restoreCommand(): Command {
  return new Command('restore')
    .description(
      'restore to a moment (--time) or the newest archived WAL (--latest), into a new directory or in place',
    )
    .option('--time <iso>', 'recover to this moment (ISO 8601 with time zone)')
    .option('--latest', 'recover everything archived')
    .option('--set <label>', 'start from this backup (see powerhouse backups)')
    .option('--target-dir <dir>', 'a new, empty directory for the restored copy')
    .option('--in-place', 'replace the live data directory (PostgreSQL must be stopped)')
    .option(
      '--start',
      'start the restored copy (with --target-dir and --port) and wait until recovery is done',
    )
    .option('--port <port>', 'port for the restored copy')
    .addOption(profileOption())
    .action(
      async (o: {
        time?: string;
        latest?: boolean;
        set?: string;
        targetDir?: string;
        inPlace?: boolean;
        start?: boolean;
        port?: string;
        profile?: string;
      }) => {
        if ((o.time === undefined) === (o.latest === undefined))
          throw new UsageError('give exactly one of --time T and --latest');
        if (o.start && (o.inPlace || o.port === undefined))
          throw new UsageError(
            '--start needs --target-dir and --port (start the live server with its own service instead)',
          );
        const port = o.port === undefined ? undefined : portFlag(o.port);
        const time = o.time === undefined ? undefined : parseTime(o.time);
        const profile = loadBackupProfile(o.profile);
        const { plan, seconds } = await restore(
          profile,
          {
            target: time ? { kind: 'time', time } : { kind: 'latest' },
            set: o.set,
            targetDir: o.targetDir,
            inPlace: o.inPlace ?? false,
          },
          err,
        );
        const to = time ? `to ${time.toISOString()}` : 'to the newest archived WAL';
        out(
          `restored ${plan.from.label} into ${plan.dir} in ${seconds.toFixed(1)} s; recovery ${to} runs when it starts`,
        );
        if (plan.inPlace) {
          out(`start PostgreSQL: ${profile.postgres.startCommand}`);
          return;
        }
        if (!o.start || port === undefined) {
          out(
            `start the copy: ${profile.postgres.binDir}/pg_ctl -D ${plan.dir} -o "-p PORT" start (as ${profile.osUser}); ` +
              'its WAL archiving is off, so it never writes into this repository',
          );
          return;
        }
        const t0 = Date.now();
        const copy = await startRestoredCopy(profile, plan.dir, port);
        out(
          `the restored copy is up on port ${copy.port} (pid ${copy.pid}), recovery done in ${((Date.now() - t0) / 1000).toFixed(1)} s; stop it: ${copy.stopCommand}`,
        );
      },
    );
}

function verifyCommand(): Command {
  return new Command('verify')
    .description('check that WAL reaches the repository now and that every stored file matches its checksum')
    .addOption(profileOption())
    .action(async (o: { profile?: string }) => {
      const lines = await verifyRepository(loadBackupProfile(o.profile));
      for (const l of lines) out(`${l.ok ? 'ok  ' : 'FAIL'} ${l.name.padEnd(10)} ${l.detail}`);
      if (lines.some((l) => !l.ok)) process.exitCode = 1;
    });
}

function backupStatusCommand(): Command {
  return new Command('backup-status')
    .description("read the repository's health (what /readyz shows); --write leaves it for the worker")
    .addOption(profileOption())
    .option('--write', "write the profile's status file (the host's timer does this every 30 s)")
    .action(async (o: { profile?: string; write?: boolean }) => {
      const profile = loadBackupProfile(o.profile);
      const status = await collectStatus(profile);
      if (o.write) {
        // The timer's journal gets a line only when something is wrong.
        writeStatusFile(profile.statusFile, status);
        if (status.error) err(`backup-status: ${status.error}`);
      } else {
        out(JSON.stringify(status, null, 2));
      }
      if (!status.reachable) process.exitCode = 1;
    });
}

export function backupCommands(): Command[] {
  return [backupNowCommand(), backupsCommand(), restoreCommand(), verifyCommand(), backupStatusCommand()];
}

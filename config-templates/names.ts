// Names shared by render(), the ingest worker, the local stack and the deployed stacks.

/** The application database. */
export const DATABASE = 'powerhouse';
/** PgBouncer database entry for app clients (transaction pooling) — same name as the database. */
export const APP_POOL_DB = 'powerhouse';
/** PgBouncer database entry used only by the ingest worker (long COPYs, no query timeout). */
export const INGEST_POOL_DB = 'powerhouse_ingest';

export const ROLES = {
  /** Bootstrap superuser created by initdb; never used by the app or the worker. */
  superuser: 'postgres',
  /** Owns the database, its schemas and tables; runs the migrations. Reaches PostgreSQL directly, never PgBouncer. */
  owner: 'powerhouse_owner',
  /** Desktop app / sync queries: reads and writes rows, no DDL; statement_timeout applies (set on the role). */
  app: 'powerhouse_app',
  /** The ingest worker: COPY (INSERT) into allowlisted tables and its upload records, no statement_timeout. */
  ingest: 'powerhouse_ingest',
  /** PgBouncer admin console (SHOW/RELOAD/PAUSE). */
  bouncerAdmin: 'pgbouncer_admin',
  /** PgBouncer read-only console (SHOW POOLS/STATS), used by the worker's admin route. */
  bouncerStats: 'pgbouncer_stats',
} as const;

export const DEFAULT_PORTS = { postgres: 5432, pgbouncer: 6432, ingest: 8080 } as const;

/** The schema of the worker's own tables (upload records, migration versions). */
export const WORKER_SCHEMA = 'powerhouse';

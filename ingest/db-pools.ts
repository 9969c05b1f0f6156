// The worker's two node-postgres pools on config.databaseUrl (PgBouncer's ingest entry on the stacks): one
// for uploads, one for everything else, so lookups and readiness never queue behind long COPYs.
import { Pool } from 'pg';
import type { Logger } from 'pino';
import { INGEST_OPS_CONNECTIONS } from '../config-templates/tune';
import type { IngestConfig } from './config';

const POOL_CONNECT_TIMEOUT_MS = 10_000;

export function createUploadPool(config: IngestConfig): Pool {
  return new Pool({
    connectionString: config.databaseUrl,
    max: config.limits.dbPoolSize,
    connectionTimeoutMillis: POOL_CONNECT_TIMEOUT_MS,
    // Client connections to PgBouncer are cheap; keeping them spares a burst of uploads N SCRAM logins.
    idleTimeoutMillis: 0,
    keepAlive: true,
    application_name: 'powerhouse-ingest',
  });
}

/**
 * Progress lookups, readiness and the catalog must not queue behind long COPYs holding the upload pool
 * (the tier's PgBouncer ingest pool has INGEST_OPS_CONNECTIONS server connections beyond the uploads).
 */
export function createOpsPool(config: IngestConfig): Pool {
  return new Pool({
    connectionString: config.databaseUrl,
    max: INGEST_OPS_CONNECTIONS,
    connectionTimeoutMillis: POOL_CONNECT_TIMEOUT_MS,
    // Never idle out: PgBouncer fills the ingest entry's min_pool_size only while the pool has a client, and
    // the ops connection opened for the catalog at start is that client.
    idleTimeoutMillis: 0,
    keepAlive: true,
    application_name: 'powerhouse-ingest-ops',
  });
}

/**
 * An idle connection that fails (PostgreSQL or PgBouncer going away) is logged and dropped by the pool.
 * pg-pool hands the error over with the whole client attached (`err.client`: its socket, parameters and
 * the backend's cancel key); the logger's error serializer keeps none of that.
 */
export function logIdleErrors(pool: Pool, log: Logger): void {
  pool.on('error', (err) => log.warn({ err }, 'idle database connection failed'));
}

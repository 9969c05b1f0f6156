// SHOW POOLS / SHOW STATS from PgBouncer's admin console (virtual database "pgbouncer") as the stats user.
// The console speaks only the simple query protocol: node-postgres uses it for a query without parameters.
import { Client } from 'pg';

export interface PgBouncerSnapshot {
  pools: Record<string, unknown>[];
  stats: Record<string, unknown>[];
}

export const CONNECT_TIMEOUT_MS = 5_000;

/** Console counters come back as int8 text; plain numbers read better in JSON. */
export function tidy(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    out[k] = typeof v === 'string' && /^-?\d{1,15}$/.test(v) ? Number(v) : v;
  }
  return out;
}

export async function pgbouncerSnapshot(adminUrl: string): Promise<PgBouncerSnapshot> {
  const client = new Client({ connectionString: adminUrl, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  client.on('error', () => undefined); // surfaced through the awaited calls below
  await client.connect();
  try {
    const pools = await client.query('SHOW POOLS');
    const stats = await client.query('SHOW STATS');
    return { pools: pools.rows.map(tidy), stats: stats.rows.map(tidy) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

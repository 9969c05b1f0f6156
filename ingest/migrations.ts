// Schema the worker needs: the default app tables from INGEST-API.md and the worker's own upload records.
// Versioned, run in one transaction under an advisory lock (several workers may start at once), idempotent.
import type { Pool, PoolClient } from 'pg';
import { ROLES } from '../config-templates/names';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'default schema: tm_entries, file_rows',
    sql: `
CREATE TABLE IF NOT EXISTS public.tm_entries (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tm_id bigint NOT NULL,
  source text NOT NULL,
  target text NOT NULL,
  created_by text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS tm_entries_tm_id_idx ON public.tm_entries (tm_id);
CREATE TABLE IF NOT EXISTS public.file_rows (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  file_id bigint NOT NULL,
  row_num integer NOT NULL,
  source text,
  target text,
  metadata jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS file_rows_file_id_row_num_idx ON public.file_rows (file_id, row_num);`,
  },
  {
    version: 2,
    name: 'worker upload records',
    // Committed uploads are written in the same transaction as their rows; failed ones afterwards, best effort.
    // Only a committed record claims its Idempotency-Key.
    sql: `
CREATE TABLE IF NOT EXISTS powerhouse.uploads (
  upload_id uuid PRIMARY KEY,
  token_id text NOT NULL,
  table_name text NOT NULL,
  idempotency_key text,
  status text NOT NULL CHECK (status IN ('committed', 'failed')),
  rows bigint NOT NULL DEFAULT 0,
  bytes bigint NOT NULL DEFAULT 0,
  body_sha256 bytea,
  error jsonb,
  started_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  duration_ms integer NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS uploads_committed_key_idx ON powerhouse.uploads (token_id, table_name, idempotency_key)
  WHERE status = 'committed' AND idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS uploads_key_idx ON powerhouse.uploads (token_id, idempotency_key, finished_at DESC)
  WHERE idempotency_key IS NOT NULL;`,
  },
];

// What the ingest role needs: COPY (INSERT) into the default tables, read/write its own records. Applied on
// every run (idempotent) and only when the role exists, so a single-role setup also works.
const GRANTS = `
DO $grants$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${ROLES.ingest}') THEN
    GRANT USAGE ON SCHEMA public, powerhouse TO ${ROLES.ingest};
    GRANT INSERT ON public.tm_entries, public.file_rows TO ${ROLES.ingest};
    GRANT SELECT, INSERT ON powerhouse.uploads TO ${ROLES.ingest};
  END IF;
END
$grants$;`;

const LOCK_KEY = 'powerhouse.migrations';

/** Applies the migrations not yet recorded; returns the versions applied now. */
export async function migrate(pool: Pick<Pool, 'connect'>, migrations = MIGRATIONS): Promise<number[]> {
  const client: PoolClient = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [LOCK_KEY]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS powerhouse;
CREATE TABLE IF NOT EXISTS powerhouse.schema_migrations (
  version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());`);
    const { rows } = await client.query<{ version: number }>(
      'SELECT version FROM powerhouse.schema_migrations',
    );
    const done = new Set(rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO powerhouse.schema_migrations (version, name) VALUES ($1, $2)', [
        m.version,
        m.name,
      ]);
      applied.push(m.version);
    }
    await client.query(GRANTS);
    await client.query('COMMIT');
    return applied;
  } catch (err) {
    broken = err as Error;
    await client.query('ROLLBACK').catch(() => undefined);
    throw new Error(`schema migration failed: ${(err as Error).message}`, { cause: err });
  } finally {
    client.release(broken);
  }
}

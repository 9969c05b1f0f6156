// Schema the worker needs: the default app tables from docs/INGEST-API.md and the worker's own upload records.
// Versioned, run in one transaction under an advisory lock (several workers may start at once), idempotent.
// Run as the owner role (config-templates/roles.ts), which then grants the app and ingest roles exactly their
// privileges on the allowlisted tables, in the same transaction.
import type { Pool, PoolClient } from 'pg';
import { ROLES } from '../config-templates/names';
import { privilegeStatements, quoteIdent, type TableRef } from '../config-templates/roles';

/** The tables the first migration creates: the default allowlist of every deployment. */
export const DEFAULT_TABLES: readonly TableRef[] = [
  { schema: 'public', table: 'tm_entries' },
  { schema: 'public', table: 'file_rows' },
];

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
  {
    version: 3,
    name: 'ingest tokens made with powerhouse token',
    // Only the SHA-256 of a token. A revoked row stays (its name stays taken: upload records name it); a token
    // from the worker's config is revoked by a row with its hash and revoked_at.
    sql: `
CREATE TABLE IF NOT EXISTS powerhouse.tokens (
  token_id text PRIMARY KEY CHECK (token_id ~ '^[A-Za-z0-9_.:-]{1,64}$'),
  sha256 bytea NOT NULL CHECK (length(sha256) = 32),
  tables text[],
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
CREATE INDEX IF NOT EXISTS uploads_token_finished_idx ON powerhouse.uploads (token_id, finished_at DESC);
CREATE INDEX IF NOT EXISTS uploads_finished_idx ON powerhouse.uploads (finished_at DESC);`,
  },
  {
    version: 4,
    name: 'default schema for concurrent writers: keys led by tm_id / file_id, identity cache',
    // bench/results/schema-latest.md: 40 concurrent writers spent 82-84% of their time on the rightmost leaf of
    // the identity key (LWLock:BufferContent). One key led by tm_id (file_id) instead of a key on id plus an
    // index on tm_id: one index to maintain, and each TM's rows in its own part of it; the identity sequence
    // hands each session 128 ids at a time, so writers of one TM fill different leaves too. Reads by tm_id and
    // sync by (tm_id, id) use the key. In place: no row is rewritten, ids are kept; the key is rebuilt under
    // the table's ACCESS EXCLUSIVE lock (measured in tests/ingest/schema-v4.test.ts), taken within lock_timeout
    // or the migration fails and changes nothing.
    sql: `
SET LOCAL lock_timeout = '60s';
DO $v4$
DECLARE
  t record;
  pk text;
BEGIN
  FOR t IN SELECT * FROM (VALUES
      ('public.tm_entries', 'tm_entries_pkey', 'tm_id, id', 'public.tm_entries_tm_id_idx'),
      ('public.file_rows', 'file_rows_pkey', 'file_id, row_num, id', 'public.file_rows_file_id_row_num_idx')
    ) AS v(rel, key_name, key_cols, old_index)
  LOOP
    -- A deployment may have dropped a default table: nothing to change then.
    CONTINUE WHEN to_regclass(t.rel) IS NULL;
    EXECUTE format('ALTER TABLE %s ALTER COLUMN id SET CACHE 128', t.rel);
    SELECT conname INTO pk FROM pg_constraint WHERE conrelid = t.rel::regclass AND contype = 'p';
    IF pk IS NOT NULL THEN EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', t.rel, pk); END IF;
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I PRIMARY KEY (%s)', t.rel, t.key_name, t.key_cols);
    EXECUTE format('DROP INDEX IF EXISTS %s', t.old_index);
  END LOOP;
END
$v4$;`,
  },
  {
    version: 5,
    name: 'upload records keep how many COPYs an upload was split over',
    // ingest/copy-parts: a replay of a split upload first finishes parts its worker left prepared. A constant
    // default: no table rewrite, a brief ACCESS EXCLUSIVE lock only.
    sql: `
SET LOCAL lock_timeout = '60s';
ALTER TABLE powerhouse.uploads ADD COLUMN IF NOT EXISTS parts smallint NOT NULL DEFAULT 1 CHECK (parts >= 1);`,
  },
];

const LOCK_KEY = 'powerhouse.migrations';

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/**
 * The allowlisted tables that exist, each checked to belong to the role running the migrations (or that role
 * is a superuser): a GRANT by anyone else would be a silent no-op. Missing tables are left to the worker's
 * readiness check, which names them.
 */
async function grantableTables(
  client: PoolClient,
  tables: readonly TableRef[],
  who: string,
  su: boolean,
): Promise<TableRef[]> {
  const { rows } = await client.query<{ schema: string; table: string; owner: string | null }>(
    `SELECT w.nsp AS schema, w.rel AS table, pg_get_userbyid(c.relowner) AS owner
       FROM unnest($1::text[], $2::text[]) AS w(nsp, rel)
       LEFT JOIN pg_namespace n ON n.nspname = w.nsp
       LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.rel`,
    [tables.map((t) => t.schema), tables.map((t) => t.table)],
  );
  const wrong = su ? [] : rows.filter((t) => t.owner !== null && t.owner !== who);
  if (wrong.length)
    throw new MigrationError(
      wrong
        .map(
          (t) =>
            `table ${t.schema}.${t.table} is owned by ${t.owner}, not ${who}, so ${who} cannot grant on it: ` +
            `ALTER TABLE ${quoteIdent(t.schema)}.${quoteIdent(t.table)} OWNER TO ${quoteIdent(ROLES.owner)}`,
        )
        .join('; '),
    );
  return rows.filter((t) => t.owner !== null).map((t) => ({ schema: t.schema, table: t.table }));
}

export interface MigrateOptions {
  /** The worker's allowlisted tables: they get the app and ingest roles' privileges. Default DEFAULT_TABLES. */
  readonly tables?: readonly TableRef[];
  readonly migrations?: readonly Migration[];
}

export interface MigrateResult {
  /** Migration versions applied now. */
  readonly applied: number[];
  /** The tables that got the model's privileges; null when the role running it may not set them. */
  readonly granted: TableRef[] | null;
}

/** Applies the migrations not yet recorded and the privileges. */
export async function migrate(
  pool: Pick<Pool, 'connect'>,
  opts: MigrateOptions = {},
): Promise<MigrateResult> {
  const migrations = opts.migrations ?? MIGRATIONS;
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
    // Only the owner (or a superuser) sets the model's privileges. A worker of this version on a deployment of
    // the previous one (migrations as the app role, which owns the tables) keeps that layout working rather than
    // revoking the app role's own rights; the role bootstrap moves such a deployment to the owner model.
    const { rows: me } = await client.query<{ u: string; su: boolean }>(
      'SELECT current_user AS u, rolsuper AS su FROM pg_roles WHERE rolname = current_user',
    );
    const { u: who, su } = me[0];
    let granted: TableRef[] | null = null;
    if (who === ROLES.owner || su) {
      granted = await grantableTables(client, opts.tables ?? DEFAULT_TABLES, who, su);
      for (const stmt of privilegeStatements(granted)) await client.query(stmt);
    }
    await client.query('COMMIT');
    return { applied, granted };
  } catch (err) {
    broken = err as Error;
    await client.query('ROLLBACK').catch(() => undefined);
    throw new MigrationError(`schema migration failed: ${(err as Error).message}`, { cause: err });
  } finally {
    client.release(broken);
  }
}

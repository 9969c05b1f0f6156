// The role model, the same on every target (Hetzner host, Docker, the local process stack):
//
//   owner   owns the database, the schemas and every table; runs the migrations; reaches PostgreSQL directly
//           (never through PgBouncer, not in its userlist), so its password stays on the server.
//   app     the desktop app: SELECT, INSERT, UPDATE, DELETE on the allowlisted tables, SELECT on the worker's
//           upload records (to reconcile what was uploaded); no DDL, no TRUNCATE; statement_timeout on the role.
//   ingest  the worker: INSERT (what COPY FROM needs) on the allowlisted tables, SELECT and INSERT on its
//           upload records, SELECT, INSERT and UPDATE (revoked_at) on its tokens; nothing else.
//   PUBLIC  PostgreSQL 16's defaults minus the database: PG 16 grants PUBLIC CONNECT and TEMPORARY on every
//           database (revoked here on ours), USAGE on schema public (kept; CREATE there is no longer granted
//           since PG 15), EXECUTE on functions and USAGE on types and languages (kept), and nothing on tables.
//
// Two parts: bootstrapSteps() runs as the superuser when a target creates or upgrades its database (roles,
// passwords, ownership); privilegeStatements() runs as the owner right after the migrations, for the tables
// the worker's config allowlists, so a table added there later gets its grants on the next migrate step.
import { DATABASE, ROLES, WORKER_SCHEMA } from './names';
import type { Settings } from './settings';

export type RoleKey = keyof typeof ROLES;

export interface TableRef {
  readonly schema: string;
  readonly table: string;
}

export const APP_TABLE_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] as const;
export const INGEST_TABLE_PRIVILEGES = ['INSERT'] as const;
/** The worker's upload records: the app reads them, the worker writes them. */
export const UPLOAD_RECORDS: TableRef = { schema: WORKER_SCHEMA, table: 'uploads' };
export const APP_UPLOAD_PRIVILEGES = ['SELECT'] as const;
export const INGEST_UPLOAD_PRIVILEGES = ['SELECT', 'INSERT'] as const;
/** Tokens made with `powerhouse token` (hashes only): the worker reads, adds and revokes them; the app never sees them. */
export const TOKEN_RECORDS: TableRef = { schema: WORKER_SCHEMA, table: 'tokens' };
export const INGEST_TOKEN_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE (revoked_at)'] as const;
/** Applied migrations; only the owner sees them. */
export const MIGRATION_RECORDS: TableRef = { schema: WORKER_SCHEMA, table: 'schema_migrations' };

/** Roles that log in to PostgreSQL (the PgBouncer console users exist only for their SCRAM verifiers). */
export const LOGIN_ROLES = ['owner', 'app', 'ingest'] as const satisfies readonly RoleKey[];
/** Roles PgBouncer authenticates: the client-facing ones and its own console users. Not the owner. */
export const BOUNCER_ROLES = [
  'app',
  'ingest',
  'bouncerAdmin',
  'bouncerStats',
] as const satisfies readonly RoleKey[];

/** One step of the bootstrap; each target turns the steps into its own runner (psql script, pg client). */
export type BootstrapStep =
  | { readonly kind: 'sql'; readonly sql: string }
  /** ALTER ROLE … PASSWORD with the target's value (psql variable, SCRAM verifier). */
  | { readonly kind: 'password'; readonly role: RoleKey }
  /** CREATE DATABASE when missing (it cannot run inside a DO block or a transaction). */
  | { readonly kind: 'create-database'; readonly database: string; readonly owner: string }
  /** The steps after this one run in that database. */
  | { readonly kind: 'connect'; readonly database: string };

export const quoteIdent = (s: string): string => `"${s.replace(/"/g, '""')}"`;
export const quoteLiteral = (s: string): string => `'${s.replace(/'/g, "''")}'`;
const qualified = (t: TableRef) => `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`;
const r = (k: RoleKey) => quoteIdent(ROLES[k]);

const NOT_PRIVILEGED = 'NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS';

/**
 * The superuser's part, idempotent, and also the upgrade from earlier deployments (the app role owning the
 * database and its tables on hosts and Docker, the superuser owning them in the local stack): ownership of
 * the database, its schemas and everything in them moves to the owner role, and the old owner keeps nothing.
 */
export function bootstrapSteps(settings: Settings): BootstrapStep[] {
  const created = (Object.keys(ROLES) as RoleKey[]).filter((k) => k !== 'superuser');
  const timeout = (k: 'app' | 'ingest') =>
    `ALTER ROLE ${r(k)} SET statement_timeout = ${quoteLiteral(`${settings.roles[k].statementTimeoutMs.value}ms`)};`;
  const sql = (s: string): BootstrapStep => ({ kind: 'sql', sql: s.trim() });
  return [
    sql(`
-- Never log this session's statements: they carry passwords or verifiers.
SET log_statement = 'none';
SET log_min_duration_statement = -1;
SET password_encryption = 'scram-sha-256';`),
    sql(`
DO $roles$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY[${created.map((k) => quoteLiteral(ROLES[k])).join(', ')}] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN', r);
    END IF;
  END LOOP;
END
$roles$;
ALTER ROLE ${r('owner')} LOGIN ${NOT_PRIVILEGED};
ALTER ROLE ${r('app')} LOGIN ${NOT_PRIVILEGED};
ALTER ROLE ${r('ingest')} LOGIN ${NOT_PRIVILEGED};
-- PgBouncer's console users exist only to get SCRAM verifiers; they cannot log in to PostgreSQL.
ALTER ROLE ${r('bouncerAdmin')} NOLOGIN ${NOT_PRIVILEGED};
ALTER ROLE ${r('bouncerStats')} NOLOGIN ${NOT_PRIVILEGED};
${timeout('app')}
${timeout('ingest')}`),
    ...created.map((role): BootstrapStep => ({ kind: 'password', role })),
    { kind: 'create-database', database: DATABASE, owner: ROLES.owner },
    sql(`
ALTER DATABASE ${quoteIdent(DATABASE)} OWNER TO ${r('owner')};
REVOKE ALL ON DATABASE ${quoteIdent(DATABASE)} FROM PUBLIC, ${r('app')}, ${r('ingest')};
GRANT CONNECT ON DATABASE ${quoteIdent(DATABASE)} TO ${r('app')}, ${r('ingest')};`),
    { kind: 'connect', database: DATABASE },
    sql(`
SET log_statement = 'none';
SET log_min_duration_statement = -1;
-- Upgrade: whatever the app or ingest role owned (database, schemas, tables, sequences) now belongs to the owner.
REASSIGN OWNED BY ${r('app')}, ${r('ingest')} TO ${r('owner')};
-- … and so does what an earlier local stack created as the superuser in the schemas the deployment uses.
DO $owner$
DECLARE o record;
BEGIN
  FOR o IN SELECT n.nspname FROM pg_namespace n
            WHERE n.nspname = ${quoteLiteral(WORKER_SCHEMA)} AND n.nspowner <> ${quoteLiteral(ROLES.owner)}::regrole LOOP
    EXECUTE format('ALTER SCHEMA %I OWNER TO %I', o.nspname, ${quoteLiteral(ROLES.owner)});
  END LOOP;
  FOR o IN SELECT c.oid::regclass AS rel, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname IN ('public', ${quoteLiteral(WORKER_SCHEMA)}) AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
              AND c.relowner <> ${quoteLiteral(ROLES.owner)}::regrole
              -- identity and serial sequences follow their table
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                AND d.deptype IN ('a', 'i')) LOOP
    EXECUTE format('ALTER %s %s OWNER TO %I',
      CASE o.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
      o.rel, ${quoteLiteral(ROLES.owner)});
  END LOOP;
END
$owner$;
-- PostgreSQL 16 no longer grants CREATE on public to PUBLIC; say so for databases made from an older template.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;`),
    // Last: psql reconnected above with the superuser's old password, which this changes.
    { kind: 'password', role: 'superuser' },
  ];
}

/**
 * The owner's part, run after the migrations in the same transaction: exactly the privileges of the model on
 * the allowlisted tables and the upload records, and nothing left over from an older model (REVOKE ALL first).
 * Tables must exist and belong to the owner (the migrate step checks both before running these).
 */
export function privilegeStatements(tables: readonly TableRef[]): string[] {
  const schemas = [...new Set([...tables.map((t) => t.schema), WORKER_SCHEMA])];
  const users = `${r('app')}, ${r('ingest')}`;
  const grant = (privs: readonly string[], t: TableRef, role: RoleKey) =>
    `GRANT ${privs.join(', ')} ON TABLE ${qualified(t)} TO ${r(role)}`;
  return [
    `GRANT USAGE ON SCHEMA ${schemas.map(quoteIdent).join(', ')} TO ${users}`,
    ...tables.flatMap((t) => [
      `REVOKE ALL ON TABLE ${qualified(t)} FROM PUBLIC, ${users}`,
      grant(APP_TABLE_PRIVILEGES, t, 'app'),
      grant(INGEST_TABLE_PRIVILEGES, t, 'ingest'),
    ]),
    `REVOKE ALL ON TABLE ${qualified(UPLOAD_RECORDS)} FROM PUBLIC, ${users}`,
    grant(APP_UPLOAD_PRIVILEGES, UPLOAD_RECORDS, 'app'),
    grant(INGEST_UPLOAD_PRIVILEGES, UPLOAD_RECORDS, 'ingest'),
    `REVOKE ALL ON TABLE ${qualified(TOKEN_RECORDS)} FROM PUBLIC, ${users}`,
    grant(INGEST_TOKEN_PRIVILEGES, TOKEN_RECORDS, 'ingest'),
    `REVOKE ALL ON TABLE ${qualified(MIGRATION_RECORDS)} FROM PUBLIC, ${users}`,
  ];
}

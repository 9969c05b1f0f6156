// One privilege suite for every target's bootstrap: each role tries every action against a real PostgreSQL 16
// (through a real PgBouncer where the target has one), and the measured matrix must equal the role model of
// config-templates/roles.ts. Each target's test file only says how its database came to be.
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { from } from 'pg-copy-streams';
import { ROLES } from '../../config-templates';
import type { LocalStack } from '../../stacks/local-processes/stack';

export interface PrivilegeTarget {
  readonly name: string;
  /** The desktop app's DSN as the target hands it out (through PgBouncer). */
  readonly appDsn: string;
  /** The worker's DSN (through PgBouncer's ingest entry). */
  readonly ingestDsn: string;
  /** The owner, direct to PostgreSQL. */
  readonly ownerDsn: string;
  /** Superuser, direct, database powerhouse: to create a bare role for the PUBLIC checks. */
  readonly superuserDsn: string;
  /** The owner's credentials against PgBouncer's app entry (must be refused: it is not in the userlist). */
  readonly ownerViaBouncerDsn?: string;
  /** The app role's statement_timeout the tier sets, as PostgreSQL shows it (e.g. '1min'). */
  readonly appStatementTimeout: string;
  /** Rows an upload through the worker stored in tm_entries before the suite runs. */
  readonly uploadedRows: number;
}

/** The local process stack as a target: its own DSNs, and the owner's credentials tried against PgBouncer. */
export function localStackTarget(stack: LocalStack, name: string, uploadedRows: number): PrivilegeTarget {
  const viaBouncer = new URL(stack.appDsn);
  viaBouncer.username = ROLES.owner;
  viaBouncer.password = new URL(stack.ownerDsn).password;
  return {
    name,
    appDsn: stack.appDsn,
    ingestDsn: stack.ingestDsn,
    ownerDsn: stack.ownerDsn,
    superuserDsn: stack.superuserUrl,
    ownerViaBouncerDsn: stack.bouncer ? viaBouncer.toString() : undefined,
    appStatementTimeout: '1min',
    uploadedRows,
  };
}

export type Action =
  | 'read uploaded rows'
  | 'insert'
  | 'update'
  | 'delete'
  | 'copy in'
  | 'read upload records'
  | 'write upload records'
  | 'read migration records'
  | 'read tokens'
  | 'add tokens'
  | 'revoke tokens'
  | 'change token hashes'
  | 'create table'
  | 'alter table'
  | 'drop table'
  | 'truncate'
  | 'create schema';

type Who = 'owner' | 'app' | 'ingest' | 'public';

const ALL_ACTIONS: readonly Action[] = [
  'read uploaded rows',
  'insert',
  'update',
  'delete',
  'copy in',
  'read upload records',
  'write upload records',
  'read migration records',
  'read tokens',
  'add tokens',
  'revoke tokens',
  'change token hashes',
  'create table',
  'alter table',
  'drop table',
  'truncate',
  'create schema',
];
const allowing = (allowed: readonly Action[]) =>
  Object.fromEntries(ALL_ACTIONS.map((a) => [a, allowed.includes(a)])) as Record<Action, boolean>;

/** The role model as a matrix: true = allowed. PUBLIC stands for a login role with no grants. */
export const EXPECTED: Record<Who, Record<Action, boolean>> = {
  owner: allowing(ALL_ACTIONS),
  app: allowing(['read uploaded rows', 'insert', 'update', 'delete', 'copy in', 'read upload records']),
  ingest: allowing([
    'insert',
    'copy in',
    'read upload records',
    'write upload records',
    'read tokens',
    'add tokens',
    'revoke tokens',
  ]),
  public: allowing([]),
};

const UPLOAD_RECORD = `INSERT INTO powerhouse.uploads (upload_id, token_id, table_name, status, started_at, finished_at, duration_ms)
  VALUES (gen_random_uuid(), 'privilege-suite', 'tm_entries', 'failed', now(), now(), 0)`;

/** Each action runs in a transaction that is rolled back: the suite leaves the data as it found it. */
const ACTIONS: Record<Action, string> = {
  'read uploaded rows': 'SELECT count(*) FROM tm_entries',
  insert: "INSERT INTO tm_entries (tm_id, source, target) VALUES (-1, 'a', 'b')",
  update: "UPDATE tm_entries SET target = target || '' WHERE tm_id = -42",
  delete: 'DELETE FROM tm_entries WHERE tm_id = -42',
  'copy in': 'COPY tm_entries (tm_id, source, target) FROM STDIN',
  'read upload records': 'SELECT count(*) FROM powerhouse.uploads',
  'write upload records': UPLOAD_RECORD,
  'read migration records': 'SELECT count(*) FROM powerhouse.schema_migrations',
  'read tokens': 'SELECT count(*) FROM powerhouse.tokens',
  'add tokens': "INSERT INTO powerhouse.tokens (token_id, sha256) VALUES ('privilege-suite', sha256('x'))",
  'revoke tokens': 'UPDATE powerhouse.tokens SET revoked_at = now() WHERE false',
  // Only revoked_at may change: a token's hash (its identity) never does.
  'change token hashes': "UPDATE powerhouse.tokens SET sha256 = sha256('y') WHERE false",
  'create table': 'CREATE TABLE public.privilege_probe (x int)',
  'alter table': 'ALTER TABLE tm_entries ADD COLUMN privilege_probe int',
  'drop table': 'DROP TABLE file_rows',
  truncate: 'TRUNCATE file_rows',
  'create schema': 'CREATE SCHEMA privilege_probe',
};

const DENIED = new Set(['42501']); // insufficient_privilege ("permission denied", "must be owner")

async function tryAction(c: Client, action: Action): Promise<boolean> {
  await c.query('BEGIN');
  try {
    if (action === 'copy in') {
      await new Promise<void>((resolve, reject) => {
        const stream = c.query(from(ACTIONS[action]));
        stream.on('error', reject);
        stream.on('finish', resolve);
        stream.end('-1\ta\tb\n');
      });
    } else await c.query(ACTIONS[action]);
    return true;
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (DENIED.has(code)) return false;
    throw new Error(`${action}: unexpected error ${code} ${(err as Error).message}`);
  } finally {
    await c.query('ROLLBACK').catch(() => undefined);
  }
}

async function matrixFor(dsn: string): Promise<Record<Action, boolean>> {
  const c = new Client({ connectionString: dsn });
  await c.connect();
  try {
    const out = {} as Record<Action, boolean>;
    for (const a of ALL_ACTIONS) out[a] = await tryAction(c, a);
    return out;
  } finally {
    await c.end();
  }
}

async function query<T>(dsn: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: dsn });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}

/** The measured matrix of every target, for the report (test-output/privileges.md). */
const measuredByTarget = new Map<string, Record<Who, Record<Action, boolean>>>();

function writeReport(): void {
  const dir = path.join(__dirname, '..', '..', 'test-output');
  fs.mkdirSync(dir, { recursive: true });
  const lines: string[] = [];
  for (const [target, m] of measuredByTarget) {
    lines.push(
      `## ${target}`,
      '',
      `| action | ${Object.keys(m).join(' | ')} |`,
      `|---|${Object.keys(m)
        .map(() => '---')
        .join('|')}|`,
    );
    for (const a of Object.keys(ACTIONS) as Action[])
      lines.push(`| ${a} | ${(Object.keys(m) as Who[]).map((w) => (m[w][a] ? 'yes' : 'no')).join(' | ')} |`);
    lines.push('');
  }
  fs.writeFileSync(
    path.join(dir, `privileges-${[...measuredByTarget.keys()].join('-').replace(/\W+/g, '_')}.md`),
    lines.join('\n'),
  );
}

/** The suite. `target` is called in beforeAll (the test file starts its servers there). */
export function describePrivileges(getTarget: () => PrivilegeTarget): void {
  const bare = `privilege_probe_${process.pid}`;
  const barePassword = `Probe${Date.now()}x${process.pid}`;
  const measured = {} as Record<Who, Record<Action, boolean>>;

  describe('privileges', () => {
    let bareDsn: string;
    beforeAll(async () => {
      const t = getTarget();
      // A login role with no grant at all: what PUBLIC may do. CONNECT is revoked from PUBLIC, so it gets
      // CONNECT alone (explicitly) to show that nothing else reaches it.
      await query(t.superuserDsn, `CREATE ROLE ${bare} LOGIN PASSWORD '${barePassword}'`);
      const u = new URL(t.superuserDsn);
      u.username = bare;
      u.password = barePassword;
      bareDsn = u.toString();
    });
    afterAll(async () => {
      const t = getTarget();
      await query(t.superuserDsn, `DROP ROLE IF EXISTS ${bare}`).catch(() => undefined);
      if (measuredByTarget.size) writeReport();
    });

    it('PUBLIC cannot even connect to the database', async () => {
      await expect(query(bareDsn, 'SELECT 1')).rejects.toThrow(/permission denied for database/);
      const t = getTarget();
      // PUBLIC holds no ACL entry on the database, the schemas powerhouse or any table of ours.
      const acl = await query<{ what: string }>(
        t.superuserDsn,
        `SELECT 'database' AS what FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = current_database() AND a.grantee = 0
         UNION ALL SELECT n.nspname FROM pg_namespace n, aclexplode(n.nspacl) a WHERE n.nspname = 'powerhouse' AND a.grantee = 0
         UNION ALL SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
                    WHERE n.nspname IN ('public', 'powerhouse') AND a.grantee = 0`,
      );
      expect(acl).toEqual([]);
    });

    it('each role can do exactly what the role model says', async () => {
      const t = getTarget();
      await query(t.superuserDsn, `GRANT CONNECT ON DATABASE powerhouse TO ${bare}`);
      try {
        measured.owner = await matrixFor(t.ownerDsn);
        measured.app = await matrixFor(t.appDsn);
        measured.ingest = await matrixFor(t.ingestDsn);
        measured.public = await matrixFor(bareDsn);
      } finally {
        await query(t.superuserDsn, `REVOKE CONNECT ON DATABASE powerhouse FROM ${bare}`);
      }
      measuredByTarget.set(t.name, measured);
      expect(measured).toEqual(EXPECTED);
    });

    it('the app reads what was uploaded, through PgBouncer, with its statement_timeout', async () => {
      const t = getTarget();
      const [row] = await query<{ n: string; t: string; u: string }>(
        t.appDsn,
        "SELECT count(*) AS n, current_setting('statement_timeout') AS t, current_user AS u FROM tm_entries",
      );
      expect(row).toEqual({ n: String(t.uploadedRows), t: t.appStatementTimeout, u: ROLES.app });
      const [ing] = await query<{ t: string }>(
        t.ingestDsn,
        "SELECT current_setting('statement_timeout') AS t",
      );
      expect(ing.t).toBe('0');
    });

    it('the owner owns the database, the schemas and every table, and is no superuser', async () => {
      const t = getTarget();
      const rows = await query<{ what: string; owner: string }>(
        t.superuserDsn,
        `SELECT 'database' AS what, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = current_database()
         UNION ALL SELECT 'schema ' || nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'powerhouse'
         UNION ALL SELECT c.oid::regclass::text, pg_get_userbyid(c.relowner) FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'powerhouse') AND c.relkind IN ('r', 'p', 'S')`,
      );
      expect(rows.length).toBeGreaterThanOrEqual(6);
      expect(rows.filter((r) => r.owner !== ROLES.owner)).toEqual([]);
      const [attrs] = await query<{ rolsuper: boolean; rolcreaterole: boolean; rolcreatedb: boolean }>(
        t.superuserDsn,
        'SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = $1',
        [ROLES.owner],
      );
      expect(attrs).toEqual({ rolsuper: false, rolcreaterole: false, rolcreatedb: false });
      if (t.ownerViaBouncerDsn)
        await expect(query(t.ownerViaBouncerDsn, 'SELECT 1')).rejects.toThrow(
          /password authentication failed|SASL|no such user|not allowed/,
        );
    });
  });
}

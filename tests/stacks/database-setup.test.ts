// The roles/database/userlist setup that the Hetzner host and the local Docker stack run, against a real
// PostgreSQL 16 and a real PgBouncer loading render()'s pgbouncer.ini: every role logs in through PgBouncer with
// SCRAM using the verifiers PostgreSQL computed, and userlist.txt never holds a plaintext password.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import {
  APP_POOL_DB,
  DATABASE,
  INGEST_POOL_DB,
  presetTier,
  render,
  renderedFile,
  ROLES,
  tune,
} from '../../config-templates';
import { DB_PASSWORD_ENV, dbSetupScript, rolesSql, USERLIST_SQL } from '../../stacks/database-setup';
import {
  randomPassword,
  startTestPgBouncer,
  startTestPostgres,
  stopAllTestServers,
  type TestPgBouncer,
  type TestPostgres,
} from '../harness';

const run = promisify(execFile);
afterAll(stopAllTestServers);

const roleSettings = tune(presetTier('minimum')).roles;
const passwords: Record<keyof typeof DB_PASSWORD_ENV, string> = {
  superuser: randomPassword(),
  app: randomPassword(),
  ingest: randomPassword(),
  bouncerAdmin: randomPassword(),
  bouncerStats: randomPassword(),
};

let dir: string;
let pg: TestPostgres;
let bouncer: TestPgBouncer;
let userlist: string;

function scriptEnv(pw: Partial<typeof passwords>, superuserPassword: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    PGHOST: '127.0.0.1',
    PGPORT: String(pg.port),
    PGUSER: ROLES.superuser,
    PGDATABASE: 'postgres',
    PGPASSWORD: superuserPassword,
  };
  for (const [k, v] of Object.entries(pw)) env[DB_PASSWORD_ENV[k as keyof typeof DB_PASSWORD_ENV]] = v;
  return env;
}

async function setup(pw: Partial<typeof passwords>, superuserPassword: string) {
  return run('bash', [path.join(dir, 'db-setup'), path.join(dir, 'userlist.txt')], {
    env: scriptEnv(pw, superuserPassword),
  });
}

async function connect(port: number, user: string, password: string, database: string): Promise<Client> {
  const c = new Client({ host: '127.0.0.1', port, user, password, database });
  await c.connect();
  return c;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-dbsetup-'));
  fs.writeFileSync(path.join(dir, 'roles.sql'), rolesSql(roleSettings));
  fs.writeFileSync(path.join(dir, 'userlist.sql'), USERLIST_SQL);
  fs.writeFileSync(
    path.join(dir, 'db-setup'),
    dbSetupScript({ rolesSql: path.join(dir, 'roles.sql'), userlistSql: path.join(dir, 'userlist.sql') }),
    { mode: 0o755 },
  );
  pg = await startTestPostgres();
  await setup(passwords, pg.superuserPassword);
  userlist = fs.readFileSync(path.join(dir, 'userlist.txt'), 'utf8');
  const settings = tune(presetTier('minimum'));
  bouncer = await startTestPgBouncer({
    userlist,
    ini: ({ port, paths }) =>
      renderedFile(
        render(settings, {
          pgPort: pg.port,
          bouncerPort: port,
          bouncerListen: '127.0.0.1',
          bouncer: {
            authFile: paths.userlistFile,
            unixSocketDir: paths.socketDir,
            pidFile: paths.pidFile,
            logFile: undefined,
          },
        }),
        'pgbouncer/pgbouncer.ini',
      ).content,
  });
}, 120_000);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('powerhouse-db-setup against PostgreSQL 16 and PgBouncer', () => {
  it('writes one SCRAM verifier per PgBouncer user and no password', () => {
    const lines = userlist.trim().split('\n');
    expect(lines.map((l) => l.split(' ')[0]).sort()).toEqual(
      [ROLES.app, ROLES.ingest, ROLES.bouncerAdmin, ROLES.bouncerStats].map((r) => `"${r}"`).sort(),
    );
    for (const l of lines)
      expect(l).toMatch(/^"[a-z_]+" "SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+"$/);
    for (const pw of Object.values(passwords)) expect(userlist).not.toContain(pw);
  });

  it('lets the app role into the transaction pool with its statement_timeout, via SCRAM pass-through', async () => {
    const c = await connect(bouncer.port, ROLES.app, passwords.app, APP_POOL_DB);
    try {
      const { rows } = await c.query(
        "select current_user as u, current_database() as d, current_setting('statement_timeout') as t",
      );
      expect(rows[0]).toEqual({ u: ROLES.app, d: DATABASE, t: '1min' });
      expect(roleSettings.app.statementTimeoutMs.value).toBe(60_000);
    } finally {
      await c.end();
    }
  });

  it('lets the ingest role into its own pool, without a statement_timeout', async () => {
    const c = await connect(bouncer.port, ROLES.ingest, passwords.ingest, INGEST_POOL_DB);
    try {
      const { rows } = await c.query("select current_user as u, current_setting('statement_timeout') as t");
      expect(rows[0]).toEqual({ u: ROLES.ingest, t: '0' });
    } finally {
      await c.end();
    }
  });

  it('lets the stats user read the PgBouncer console and keeps the console users out of PostgreSQL', async () => {
    const c = await connect(bouncer.port, ROLES.bouncerStats, passwords.bouncerStats, 'pgbouncer');
    try {
      const pools = await c.query('SHOW POOLS');
      expect(pools.rows.map((r) => r.database)).toEqual(
        expect.arrayContaining([APP_POOL_DB, INGEST_POOL_DB]),
      );
    } finally {
      await c.end();
    }
    await expect(connect(pg.port, ROLES.bouncerStats, passwords.bouncerStats, 'postgres')).rejects.toThrow(
      /not permitted to log in/,
    );
  });

  it('rejects a wrong password at PgBouncer', async () => {
    await expect(connect(bouncer.port, ROLES.app, passwords.ingest, APP_POOL_DB)).rejects.toThrow(
      /SASL authentication failed/,
    );
  });

  it('creates the database owned by the app role and sets the superuser password', async () => {
    const c = await connect(pg.port, ROLES.superuser, passwords.superuser, 'postgres');
    try {
      const { rows } = await c.query(
        'select pg_get_userbyid(datdba) as owner from pg_database where datname = $1',
        [DATABASE],
      );
      expect(rows).toEqual([{ owner: ROLES.app }]);
    } finally {
      await c.end();
    }
  });

  it('is idempotent: a second run succeeds and yields verifiers for the same passwords', async () => {
    await setup(passwords, passwords.superuser);
    const again = fs.readFileSync(path.join(dir, 'userlist.txt'), 'utf8');
    // New salts, same users: PostgreSQL recomputed the verifiers from the same passwords.
    expect(again.split('\n').map((l) => l.split(' ')[0])).toEqual(
      userlist.split('\n').map((l) => l.split(' ')[0]),
    );
    const c = await connect(pg.port, ROLES.app, passwords.app, DATABASE);
    await c.end();
  });

  it('refuses to run without a password, naming the variable', async () => {
    const { app: _omit, ...rest } = passwords;
    await expect(setup(rest, passwords.superuser)).rejects.toMatchObject({
      stderr: expect.stringContaining(`${DB_PASSWORD_ENV.app} is not set`),
    });
    await expect(setup({ ...passwords, ingest: 'short' }, passwords.superuser)).rejects.toMatchObject({
      stderr: expect.stringContaining(`${DB_PASSWORD_ENV.ingest} is shorter than 16 characters`),
    });
  });
});

// The roles/database/userlist setup that the Hetzner host and the local Docker stack run, against a real
// PostgreSQL 16 and a real PgBouncer loading render()'s pgbouncer.ini: every role logs in through PgBouncer with
// SCRAM using the verifiers PostgreSQL computed, and userlist.txt never holds a plaintext password. Then the
// migrate step as those hosts run it (ingest/main.ts --migrate with the owner's URL), an upload through the
// worker with the deployment's own config, and the privilege suite every target shares.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { APP_POOL_DB, DATABASE, INGEST_POOL_DB, presetTier, ROLES, tune } from '../../config-templates';
import { ROLE_PASSWORD, SECRET_ENV, type SecretName } from '../../config-templates';
import { hashToken, OWNER_URL_ENV, parseIngestConfig } from '../../ingest/config';
import { createIngestServer } from '../../ingest/server';
import { dbSetupSecrets } from '../../stacks/database-setup';
import { describeDeployment, type DeploymentTarget } from '../../stacks/deployment';
import { describePrivileges, type PrivilegeTarget } from '../privileges/privilege-suite';
import {
  randomPassword,
  renderedBouncerIni,
  startTestPgBouncer,
  startTestPostgres,
  stopAllTestServers,
  writeDbSetup,
  type TestPgBouncer,
  type TestPostgres,
} from '../harness';

const run = promisify(execFile);
afterAll(stopAllTestServers);

const minimum = tune(presetTier('minimum'));
const roleSettings = minimum.roles;
type PasswordKey = keyof typeof ROLE_PASSWORD;
const SECRET_OF = ROLE_PASSWORD;
const passwords: Record<PasswordKey, string> = {
  superuser: randomPassword(),
  owner: randomPassword(),
  app: randomPassword(),
  ingest: randomPassword(),
  bouncerAdmin: randomPassword(),
  bouncerStats: randomPassword(),
};
const DB_PASSWORD_ENV = Object.fromEntries(
  Object.entries(SECRET_OF).map(([k, n]) => [k, SECRET_ENV[n]]),
) as Record<PasswordKey, string>;
const token = 'tok-' + randomPassword();

let dir: string;
let privileges: PrivilegeTarget;
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
  for (const [k, v] of Object.entries(pw)) env[DB_PASSWORD_ENV[k as PasswordKey]] = v;
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
  writeDbSetup(minimum, dir);
  expect(dbSetupSecrets(minimum).sort()).toEqual(Object.values(SECRET_OF).sort());
  pg = await startTestPostgres();
  await setup(passwords, pg.superuserPassword);
  userlist = fs.readFileSync(path.join(dir, 'userlist.txt'), 'utf8');
  const settings = tune(presetTier('minimum'));
  bouncer = await startTestPgBouncer({
    userlist,
    ini: renderedBouncerIni(settings, pg.port),
  });

  // The deployment as a host describes it, with this test's ports and secrets.
  const target: DeploymentTarget = {
    kind: 'hetzner',
    postgres: { host: '127.0.0.1', port: pg.port },
    pgbouncer: { host: '127.0.0.1', port: bouncer.port },
    workerListen: { host: '127.0.0.1', port: 0 },
    renderOptions: {},
  };
  const value = (n: SecretName) =>
    n === 'ingest_token' || n === 'admin_token'
      ? `${n}-${token}`
      : passwords[(Object.keys(SECRET_OF) as PasswordKey[]).find((k) => SECRET_OF[k] === n)!];
  const d = describeDeployment(minimum, target, (n, form) =>
    form === 'sha256' ? hashToken(value(n)) : value(n),
  );
  // The migrate step as powerhouse-migrate runs it: the worker's entry, the owner's URL in the environment.
  const configFile = path.join(dir, 'ingest.json');
  fs.writeFileSync(configFile, JSON.stringify(d.workerConfig));
  const migrated = await run(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, '../../ingest/main.ts'), '--migrate', configFile],
    { env: { ...process.env, [OWNER_URL_ENV]: d.dsn.owner } },
  );
  expect(migrated.stdout).toMatch(/applied migrations 1, 2, 3, 4, 5; privileges set on 2 allowlisted table/);
  // One upload through the worker, with the deployment's own config (ingest role only).
  const worker = createIngestServer(
    parseIngestConfig({
      ...d.workerConfig,
      limits: { ...d.workerConfig.limits, dbPoolKeepOpen: 1 },
      logLevel: 'silent',
    }),
  );
  const url = await worker.listen(0, '127.0.0.1');
  try {
    const res = await fetch(`${url}/v1/tables/tm_entries/uploads`, {
      method: 'POST',
      headers: { Authorization: `Bearer ingest_token-${token}`, 'Content-Type': 'text/csv' },
      body: 'tm_id,source,target\n1,Hello,Hallo\n1,World,Welt\n2,Yes,Ja\n',
    });
    expect(res.status).toBe(201);
  } finally {
    await worker.close();
  }
  privileges = {
    name: 'host and Docker (psql bootstrap)',
    appDsn: d.dsn.app,
    ingestDsn: d.dsn.ingest,
    ownerDsn: d.dsn.owner,
    superuserDsn: d.dsn.superuser,
    ownerViaBouncerDsn: d.dsn.app.replace(
      `${ROLES.app}:${passwords.app}`,
      `${ROLES.owner}:${passwords.owner}`,
    ),
    appStatementTimeout: '1min',
    uploadedRows: 3,
  };
}, 120_000);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describePrivileges(() => privileges);

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

  it('creates the database owned by the owner role and sets the superuser password', async () => {
    const c = await connect(pg.port, ROLES.superuser, passwords.superuser, 'postgres');
    try {
      const { rows } = await c.query(
        'select pg_get_userbyid(datdba) as owner from pg_database where datname = $1',
        [DATABASE],
      );
      expect(rows).toEqual([{ owner: ROLES.owner }]);
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

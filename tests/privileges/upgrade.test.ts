// Upgrade to the owner-role model from databases made by the previous version (frozen in
// tests/fixtures/upgrade/): a host/Docker database (the app role owning the database and its tables) brought
// over by the new psql bootstrap and migrate step, and a local stack's data dir (superuser-owned tables, the
// old secrets.json) brought over by the next startLocalStack. No row is lost, ids are kept, the privilege
// suite holds afterwards.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { customTier, dsn, presetTier, ROLES, scramVerifier, SECRET_ENV, tune } from '../../config-templates';
import { OWNER_URL_ENV } from '../../ingest/config';
import { startLocalStack, type LocalStack } from '../../stacks/local-processes/stack';
import {
  randomPassword,
  renderedBouncerIni,
  startTestPgBouncer,
  startTestPostgres,
  stopAllTestServers,
  writeDbSetup,
  type TestPostgres,
} from '../harness';
import { describePrivileges, localStackTarget, type PrivilegeTarget } from './privilege-suite';

const run = promisify(execFile);
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'upgrade');
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');
afterAll(stopAllTestServers);

const url = (user: string, password: string, port: number, database = 'powerhouse') =>
  dsn({ user, password, host: '127.0.0.1', port, database });

async function sql<T = Record<string, unknown>>(dsn: string, text: string): Promise<T[]> {
  const c = new Client({ connectionString: dsn });
  await c.connect();
  try {
    return (await c.query(text)).rows as T[];
  } finally {
    await c.end();
  }
}

async function copyRows(dsn: string, table: string, columns: string, body: string): Promise<void> {
  const c = new Client({ connectionString: dsn });
  await c.connect();
  try {
    await new Promise<void>((resolve, reject) => {
      const s = c.query(copyFrom(`COPY ${table} (${columns}) FROM STDIN`));
      s.on('error', reject);
      s.on('finish', resolve);
      s.end(body);
    });
  } finally {
    await c.end();
  }
}

/** What must survive: per table, the row count, the id range and a digest of every row. */
const SNAPSHOT = `SELECT 'tm_entries' AS t, count(*)::int AS n, min(id)::text AS lo, max(id)::text AS hi,
       md5(string_agg(concat_ws('|', id, tm_id, source, target, created_by, created_at), ',' ORDER BY id)) AS digest
  FROM tm_entries
UNION ALL
SELECT 'file_rows', count(*)::int, min(id)::text, max(id)::text,
       md5(string_agg(concat_ws('|', id, file_id, row_num, source, target, metadata, created_at), ',' ORDER BY id))
  FROM file_rows
ORDER BY 1`;
const OWNERS = `SELECT c.oid::regclass::text AS rel, pg_get_userbyid(c.relowner) AS owner FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'powerhouse') AND c.relkind = 'r'
  ORDER BY 1`;

const tmRows = (n: number, tm: number) =>
  Array.from({ length: n }, (_, i) => `${tm}\tsource ${i} ünïcode\ttarget ${i}\n`).join('');
const fileRows = (n: number) =>
  Array.from({ length: n }, (_, i) => `7\t${i + 1}\ts${i}\tt${i}\t{"k": ${i}}\n`).join('');

describe('a host/Docker database of the previous version', () => {
  const settings = tune(presetTier('minimum'));
  const pw = {
    superuser: randomPassword(),
    owner: randomPassword(),
    app: randomPassword(),
    ingest: randomPassword(),
    bouncerAdmin: randomPassword(),
    bouncerStats: randomPassword(),
  };
  const env = {
    [SECRET_ENV.superuser_password]: pw.superuser,
    [SECRET_ENV.owner_password]: pw.owner,
    [SECRET_ENV.app_password]: pw.app,
    [SECRET_ENV.ingest_password]: pw.ingest,
    [SECRET_ENV.bouncer_admin_password]: pw.bouncerAdmin,
    [SECRET_ENV.bouncer_stats_password]: pw.bouncerStats,
  };
  let pg: TestPostgres;
  let dir: string;
  let before: unknown[];
  let ownersBefore: { rel: string; owner: string }[];
  let target: PrivilegeTarget;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-upgrade-host-'));
    pg = await startTestPostgres();
    const psql = (args: string[], extra: NodeJS.ProcessEnv) =>
      run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', ...args], {
        env: { PATH: process.env.PATH, PGHOST: '127.0.0.1', PGPORT: String(pg.port), ...env, ...extra },
      });
    // v1: its role setup, then its migrations as the app role (which owned the database).
    fs.writeFileSync(path.join(dir, 'v1-roles.sql'), fixture('v1-host-roles.sql'));
    await psql(['-U', 'postgres', '-d', 'postgres', '-f', path.join(dir, 'v1-roles.sql')], {
      PGPASSWORD: pg.superuserPassword,
    });
    await psql(['-U', ROLES.app, '-d', 'powerhouse', '-f', path.join(FIXTURES, 'v1-migrations.sql')], {
      PGPASSWORD: pw.app,
    });
    // Data as v1 wrote it: uploads by the ingest role, app rows, an upload record.
    await copyRows(
      url(ROLES.ingest, pw.ingest, pg.port),
      'tm_entries',
      'tm_id, source, target',
      tmRows(5000, 1),
    );
    await copyRows(
      url(ROLES.ingest, pw.ingest, pg.port),
      'file_rows',
      'file_id, row_num, source, target, metadata',
      fileRows(300),
    );
    await sql(url(ROLES.app, pw.app, pg.port), "DELETE FROM tm_entries WHERE source = 'source 7 ünïcode'");
    before = await sql(url(ROLES.app, pw.app, pg.port), SNAPSHOT);
    ownersBefore = await sql(url(ROLES.app, pw.app, pg.port), OWNERS);

    // The new bootstrap and migrate step, exactly as a host runs them on its next apply.
    await run('bash', [writeDbSetup(settings, dir), path.join(dir, 'userlist.txt')], {
      env: {
        PATH: process.env.PATH,
        PGHOST: '127.0.0.1',
        PGPORT: String(pg.port),
        PGUSER: 'postgres',
        PGDATABASE: 'postgres',
        PGPASSWORD: pw.superuser, // v1 set it from the same environment
        ...env,
      },
    });
    const config = path.join(dir, 'ingest.json');
    fs.writeFileSync(
      config,
      JSON.stringify({
        databaseUrl: url(ROLES.ingest, pw.ingest, pg.port),
        tables: [{ table: 'tm_entries' }, { table: 'file_rows' }],
        tokens: [],
        limits: {
          dbPoolSize: 1,
          maxConcurrentUploads: 1,
          maxConcurrentUploadsPerToken: 1,
          maxBodyBytes: 1,
          maxFieldBytes: 1,
          idleTimeoutMs: 1,
          copyChunkBytes: 1,
          shutdownGraceMs: 0,
          retryAfterSeconds: 1,
        },
      }),
    );
    await run(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, '../../ingest/main.ts'), '--migrate', config],
      {
        env: { ...process.env, [OWNER_URL_ENV]: url(ROLES.owner, pw.owner, pg.port) },
      },
    );
    const bouncer = await startTestPgBouncer({
      userlist: fs.readFileSync(path.join(dir, 'userlist.txt'), 'utf8'),
      ini: renderedBouncerIni(settings, pg.port),
    });
    target = {
      name: 'host and Docker, upgraded from v1',
      appDsn: url(ROLES.app, pw.app, bouncer.port),
      ingestDsn: url(ROLES.ingest, pw.ingest, bouncer.port, 'powerhouse_ingest'),
      ownerDsn: url(ROLES.owner, pw.owner, pg.port),
      superuserDsn: url('postgres', pw.superuser, pg.port),
      ownerViaBouncerDsn: url(ROLES.owner, pw.owner, bouncer.port),
      appStatementTimeout: '1min',
      uploadedRows: 4999,
    };
  }, 180_000);

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('started from the v1 layout: the app role owned every table', () => {
    expect(ownersBefore.length).toBe(4);
    expect(ownersBefore.every((r) => r.owner === ROLES.app)).toBe(true);
  });

  it('keeps every row and id, and new rows continue the ids', async () => {
    expect(await sql(target.ownerDsn, SNAPSHOT)).toEqual(before);
    const [next] = await sql<{ id: string }>(
      target.appDsn,
      "INSERT INTO tm_entries (tm_id, source, target) VALUES (9, 'new', 'neu') RETURNING id",
    );
    expect(BigInt(next.id)).toBeGreaterThan(5000n);
    await sql(target.appDsn, 'DELETE FROM tm_entries WHERE tm_id = 9');
  });

  describePrivileges(() => target);
});

describe('a local stack data dir of the previous version', () => {
  let dataDir: string;
  let stack: LocalStack;
  let before: unknown[];
  let target: PrivilegeTarget;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-upgrade-local-'));
    fs.chmodSync(dataDir, 0o711); // as the local stack keeps it: PostgreSQL's user traverses it
    // v1's secrets.json: flat fields, verifiers by role name, no owner.
    const legacy = {
      superuser: randomPassword(),
      app: randomPassword(),
      ingest: randomPassword(),
      bouncerAdmin: randomPassword(),
      bouncerStats: randomPassword(),
      token: 'tok-' + randomPassword(),
      adminToken: 'adm-' + randomPassword(),
      verifiers: {} as Record<string, string>,
      userTokens: [],
    };
    legacy.verifiers[ROLES.app] = scramVerifier(legacy.app);
    legacy.verifiers[ROLES.ingest] = scramVerifier(legacy.ingest);
    legacy.verifiers[ROLES.bouncerAdmin] = scramVerifier(legacy.bouncerAdmin);
    legacy.verifiers[ROLES.bouncerStats] = scramVerifier(legacy.bouncerStats);
    fs.writeFileSync(path.join(dataDir, 'secrets.json'), JSON.stringify(legacy), { mode: 0o600 });
    const pg = await startTestPostgres({
      dataDir: path.join(dataDir, 'postgres'),
      superuserPassword: legacy.superuser,
    });
    const roles = fixture('v1-local-roles.sql')
      .replace(/^--.*\n/gm, '')
      .replace(':app_verifier', `'${legacy.verifiers[ROLES.app]}'`)
      .replace(':ingest_verifier', `'${legacy.verifiers[ROLES.ingest]}'`);
    for (const stmt of roles.split(/;\n/).filter((s) => s.replace(/--.*$/gm, '').trim()))
      await sql(pg.url, stmt);
    const su = url('postgres', legacy.superuser, pg.port);
    await sql(su, fixture('v1-migrations.sql'));
    await copyRows(
      url(ROLES.ingest, legacy.ingest, pg.port),
      'tm_entries',
      'tm_id, source, target',
      tmRows(2000, 3),
    );
    before = await sql(su, SNAPSHOT);
    expect((await sql<{ owner: string }>(su, OWNERS)).map((r) => r.owner)).toEqual(Array(4).fill('postgres'));
    await pg.stop();

    stack = await startLocalStack({
      dataDir,
      tier: customTier({ cores: 2, ramMiB: 4096, disk: 'ssd' }, 4),
      ingestPort: 0,
      bouncerPort: 0,
      logLevel: 'silent',
    });
    target = localStackTarget(stack, 'local stack, upgraded from v1', 2000);
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps every row, the token and the passwords of the old secrets.json', async () => {
    expect(await sql(stack.superuserUrl, SNAPSHOT)).toEqual(before);
    const secrets = JSON.parse(fs.readFileSync(path.join(dataDir, 'secrets.json'), 'utf8'));
    expect(stack.token).toMatch(/^tok-/);
    expect(secrets.secrets.owner_password).toMatch(/^[A-Za-z0-9]{40}$/);
    const res = await fetch(`${stack.ingestUrl}/v1/tables/tm_entries/uploads`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${stack.token}`, 'Content-Type': 'text/csv' },
      body: 'tm_id,source,target\n4,a,b\n',
    });
    expect(res.status).toBe(201);
    await sql(stack.superuserUrl, 'DELETE FROM tm_entries WHERE tm_id = 4');
  });

  describePrivileges(() => target);
});

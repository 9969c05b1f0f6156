// What a Hetzner host runs, minus the machine: the files inside the synthesized user-data (db setup script and
// SQL, the bootstrap's PgBouncer certificate step, PgBouncer ini with client TLS, the migrate step, the worker's
// config with token hashes and PgBouncer's pinned certificate, the TLS script, the Caddyfile) and the real worker
// bundle, started against a real PostgreSQL 16, PgBouncer and Caddy on loopback. Only host paths and ports are
// changed (a test cannot bind 443 or write /etc). A client then uploads over HTTPS with the token Terraform
// would output, the worker writes the rows through PgBouncer over verified TLS, and they land in PostgreSQL;
// a plaintext client is refused by PgBouncer.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { Client, type ClientConfig } from 'pg';
import { CertificateTrustError, uploadRows } from '../../ingest/client';
import { addToken, listUploads } from '../../ingest/client/admin';
import { Testing } from 'cdktf';
import { freePort } from '../../stacks/local-processes/free-port';
import { ensureServiceUser } from '../../stacks/local-processes/os-user';
import { APP_POOL_DB, DATABASE, ROLES, SECRET_ENV } from '../../config-templates';
import { HetznerStack, PRIVATE_NETWORK } from '../../stacks/hetzner-stack';
import { caddyAdminNetworks, HOST, INGEST_HTTPS_PORT, WORKER_LISTEN } from '../../stacks/host-files';
import { buildWorkerBundle, type WorkerBundle } from '../../stacks/worker-bundle';
import {
  makeTestDir,
  startTestPgBouncer,
  startTestPostgres,
  stopAllTestServers,
  type TestPgBouncer,
  type TestPostgres,
} from '../harness';
import { parseUserData, resolveReferences, synth, testSecrets, type WrittenFile } from './synth-helpers';

const CADDY = ['/usr/bin/caddy', '/usr/local/bin/caddy'].find((p) => fs.existsSync(p));
if (!CADDY)
  console.warn(
    'caddy is absent: the HTTPS part of the host data-path test is SKIPPED (apt-get install caddy)',
  );

const secrets = testSecrets();
let dir: string;
let bundle: WorkerBundle;
let files: Map<string, WrittenFile>;
let pg: TestPostgres;
let bouncer: TestPgBouncer;
let workerPort: number;
let httpsPort: number;
/** Caddy's admin endpoint (for `caddy reload`), and the file its Caddyfile imports the admin networks from. */
let caddyAdmin: string;
let adminNetworks: string;
/** PgBouncer's key and certificate (the bootstrap's HOST.pgbouncerTlsDir) and the worker's copy (HOST.pgbouncerCa). */
let bouncerTlsDir: string;
let bouncerCa: string;
let migrateOutput: string;
/** A stand-in for the server's public address, which the bootstrap reads from its route. */
const PUBLIC_IP = '203.0.113.10';
const children: ChildProcess[] = [];
/** The worker's process (started once: a restart would show as another pid or an exit). */
let workerProcess: ChildProcess;

const text = (p: string) => {
  const f = files.get(p);
  if (!f) throw new Error(`user-data has no ${p}`);
  return f.content.toString('utf8');
};
/** Replaces `from` by `to`, `count` times exactly: a host path or port the test has to move. */
function moved(s: string, from: string | RegExp, to: string, count: number): string {
  const re = typeof from === 'string' ? new RegExp(from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g') : from;
  const n = (s.match(re) ?? []).length;
  if (n !== count) throw new Error(`expected ${count} of ${from}, found ${n}`);
  return s.replace(re, to);
}

/** One `step "NAME"` of the bootstrap, up to the next step. */
function bootstrapStep(name: string): string {
  const script = text(HOST.bootstrap);
  const start = script.indexOf(`\nstep "${name}"\n`);
  if (start < 0) throw new Error(`the bootstrap has no step "${name}"`);
  const end = script.indexOf('\nstep "', start + 1);
  return script.slice(start + 1, end < 0 ? undefined : end);
}

const groupName = (gid: number) =>
  execFileSync('getent', ['group', String(gid)], { encoding: 'utf8' }).split(':')[0];

async function waitFor(what: string, check: () => Promise<boolean>, child?: ChildProcess, ms = 30_000) {
  const until = Date.now() + ms;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`${what}: process exited with ${child.exitCode}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > until) throw new Error(`${what}: not ready after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function start(cmd: string, args: string[], env: NodeJS.ProcessEnv, log: string): ChildProcess {
  const out = fs.openSync(path.join(dir, log), 'a');
  const child = spawn(cmd, args, { env, stdio: ['ignore', out, out] });
  children.push(child);
  return child;
}

async function stopChildren() {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
          setTimeout(() => c.kill('SIGKILL'), 10_000).unref();
        }),
    ),
  );
}

function request(
  port: number,
  method: string,
  urlPath: string,
  opts: { ca?: Buffer; token?: string; body?: string; type?: string } = {},
): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: urlPath,
        ca: opts.ca,
        // A connection per request: a kept-alive one would not survive `caddy reload` (socket hang up).
        agent: false,
        headers: {
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          ...(opts.type ? { 'content-type': opts.type } : {}),
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-host-'));
  bundle = buildWorkerBundle(dir);
  const stack = new HetznerStack(Testing.app(), 'minimum', { tier: 'minimum', workerBundle: bundle });
  const userData = synth(stack).resource.hcloud_server.server.user_data as string;
  files = parseUserData(resolveReferences(userData, secrets, { data_volume_gb: '0' })).files;

  // PostgreSQL 16, then the host's roles/database/userlist setup with the host's passwords file.
  pg = await startTestPostgres();
  fs.writeFileSync(path.join(dir, 'roles.sql'), text(HOST.rolesSql));
  fs.writeFileSync(path.join(dir, 'userlist.sql'), text(HOST.userlistSql));
  let setup = moved(text(HOST.dbSetup), HOST.rolesSql, path.join(dir, 'roles.sql'), 1);
  setup = moved(setup, HOST.userlistSql, path.join(dir, 'userlist.sql'), 1);
  fs.writeFileSync(path.join(dir, 'db-setup'), setup, { mode: 0o755 });
  const passwordsEnv = Object.fromEntries(
    text(HOST.secretsEnv)
      .trim()
      .split('\n')
      .map((l) => l.split(/=(.*)/s).slice(0, 2)),
  );
  const r = spawnSync('bash', [path.join(dir, 'db-setup'), path.join(dir, 'userlist.txt')], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      ...passwordsEnv,
      PGHOST: '127.0.0.1',
      PGPORT: String(pg.port),
      PGUSER: ROLES.superuser,
      PGPASSWORD: pg.superuserPassword,
    },
  });
  if (r.status !== 0) throw new Error(`db setup failed: ${r.stderr}`);

  // The bootstrap's PgBouncer certificate step, run by bash with the host's script: the key in a directory of
  // PgBouncer's group (here the test servers' user, on the host postgres), and the worker's 0644 copy.
  const tlsBase = makeTestDir('powerhouse-host-tls-').dir;
  bouncerTlsDir = path.join(tlsBase, 'pgbouncer-tls');
  bouncerCa = path.join(tlsBase, 'pgbouncer-ca.crt');
  fs.writeFileSync(path.join(dir, 'tls-cert'), text(HOST.tlsScript), { mode: 0o755 });
  let tlsStep = moved(
    bootstrapStep('PgBouncer TLS certificate'),
    /^public_ip=.*$/m,
    `public_ip=${PUBLIC_IP}`,
    1,
  );
  tlsStep = moved(tlsStep, HOST.tlsScript, `bash ${path.join(dir, 'tls-cert')}`, 1);
  tlsStep = moved(tlsStep, HOST.pgbouncerTlsDir, bouncerTlsDir, 2); // the script's DIR, the copy's source
  tlsStep = moved(tlsStep, HOST.pgbouncerCa, bouncerCa, 1);
  tlsStep = moved(
    tlsStep,
    ' postgres "$public_ip" ',
    ` ${groupName(ensureServiceUser().gid)} "$public_ip" `,
    1,
  );
  const t = spawnSync('bash', ['-c', `set -euo pipefail\nstep() { :; }\n${tlsStep}`], { encoding: 'utf8' });
  if (t.status !== 0) throw new Error(`the bootstrap's PgBouncer TLS step failed: ${t.stderr}`);

  // PgBouncer with the ini the host installs, moved to test ports and paths.
  const ini = text(`${HOST.staged}/pgbouncer/pgbouncer.ini`);
  bouncer = await startTestPgBouncer({
    userlist: fs.readFileSync(path.join(dir, 'userlist.txt'), 'utf8'),
    ini: ({ port, paths }) => {
      let s = moved(ini, / port=5432 /g, ` port=${pg.port} `, 2);
      s = moved(s, /^listen_addr = \*$/m, 'listen_addr = 127.0.0.1', 1);
      s = moved(s, /^listen_port = 6432$/m, `listen_port = ${port}`, 1);
      s = moved(s, /^auth_file = .*$/m, `auth_file = ${paths.userlistFile}`, 1);
      s = moved(s, /^unix_socket_dir = .*$/m, `unix_socket_dir = ${paths.socketDir}`, 1);
      s = moved(s, /^logfile = .*\n/m, '', 1);
      s = moved(s, HOST.pgbouncerTlsDir, bouncerTlsDir, 2); // client_tls_key_file, client_tls_cert_file
      return moved(s, /^pidfile = .*$/m, `pidfile = ${paths.pidFile}`, 1);
    },
  });

  // The worker's config, moved to test ports and to the test's copy of PgBouncer's certificate.
  workerPort = await freePort();
  let config = moved(text(HOST.ingestConfig), /@127\.0\.0\.1:6432\//g, `@127.0.0.1:${bouncer.port}/`, 2);
  config = moved(config, `sslrootcert=${HOST.pgbouncerCa}"`, `sslrootcert=${bouncerCa}"`, 2);
  config = moved(config, `"port": ${WORKER_LISTEN.port}`, `"port": ${workerPort}`, 1);
  fs.writeFileSync(path.join(dir, 'ingest.json'), config);

  // The migrate step as systemd runs it before the worker (ExecStartPre=+powerhouse-migrate): the host's script,
  // the owner's URL from the root-only secrets.env, straight to PostgreSQL.
  fs.writeFileSync(
    path.join(dir, 'secrets.env'),
    moved(text(HOST.secretsEnv), `@127.0.0.1:5432/${DATABASE}`, `@127.0.0.1:${pg.port}/${DATABASE}`, 1),
  );
  let migrate = moved(text(HOST.migrate), HOST.workerJs, bundle.file, 3);
  migrate = moved(migrate, HOST.secretsEnv, path.join(dir, 'secrets.env'), 1);
  migrate = moved(migrate, HOST.ingestConfig, path.join(dir, 'ingest.json'), 1);
  migrate = moved(migrate, '/usr/bin/node ', `${process.execPath} `, 1);
  fs.writeFileSync(path.join(dir, 'migrate'), migrate, { mode: 0o755 });
  const m = spawnSync('bash', [path.join(dir, 'migrate')], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH },
  });
  if (m.status !== 0) throw new Error(`the migrate step failed: ${m.stderr}`);
  migrateOutput = m.stdout;

  const worker = (workerProcess = start(
    'node',
    [bundle.file, path.join(dir, 'ingest.json')],
    { PATH: process.env.PATH },
    'worker.log',
  ));
  await waitFor(
    'worker /readyz',
    async () => (await fetch(`http://127.0.0.1:${workerPort}/readyz`)).ok,
    worker,
  );

  if (CADDY) {
    httpsPort = await freePort();
    const tls = path.join(dir, 'tls-cert');
    const t = spawnSync('bash', [tls, path.join(dir, 'tls'), 'root', '127.0.0.1', '10.42.1.10'], {
      encoding: 'utf8',
    });
    if (t.status !== 0) throw new Error(`TLS script failed: ${t.stderr}`);
    let caddyfile = moved(text(HOST.caddyfileStaged), `:${INGEST_HTTPS_PORT} {`, `:${httpsPort} {`, 1);
    caddyfile = moved(caddyfile, HOST.tlsDir, path.join(dir, 'tls'), 2);
    caddyfile = moved(caddyfile, `${WORKER_LISTEN.host}:${WORKER_LISTEN.port}`, `127.0.0.1:${workerPort}`, 1);
    // The admin networks as powerhouse-apply writes them, with admin_cidrs = [127.0.0.1/32] (this client).
    adminNetworks = path.join(dir, 'admin-networks');
    fs.writeFileSync(adminNetworks, caddyAdminNetworks('127.0.0.1/32'));
    caddyfile = moved(caddyfile, `import ${HOST.caddyAdminNetworks}`, `import ${adminNetworks}`, 1);
    // Caddy's admin endpoint defaults to :2019; a test must not collide with anything there.
    caddyAdmin = `127.0.0.1:${await freePort()}`;
    caddyfile = moved(caddyfile, /^\{$/m, `{\n\tadmin ${caddyAdmin}`, 1);
    fs.writeFileSync(path.join(dir, 'Caddyfile'), caddyfile);
    const caddy = start(
      CADDY,
      ['run', '--config', path.join(dir, 'Caddyfile'), '--adapter', 'caddyfile'],
      {
        PATH: process.env.PATH,
        HOME: dir,
        XDG_DATA_HOME: path.join(dir, 'data'),
        XDG_CONFIG_HOME: path.join(dir, 'cfg'),
      },
      'caddy.log',
    );
    const ca = fs.readFileSync(path.join(dir, 'tls', 'ingest.crt'));
    await waitFor(
      'caddy',
      async () => (await request(httpsPort, 'GET', '/healthz', { ca })).status === 200,
      caddy,
    );
  }
}, 120_000);

afterAll(async () => {
  await stopChildren();
  await stopAllTestServers();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** SQL as the host's superuser (its password from the stack's secrets), straight to PostgreSQL. */
async function superuserQuery(sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const c = new Client({
    connectionString: pg.server
      .superuserUrl(DATABASE)
      .replace(pg.superuserPassword, secrets.superuser_password),
  });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows;
  } finally {
    await c.end();
  }
}

/** A client of PgBouncer's app pool with the app role's password; `ssl` as node-postgres takes it. */
const appClient = (ssl: ClientConfig['ssl']) =>
  new Client({
    host: '127.0.0.1',
    port: bouncer.port,
    user: ROLES.app,
    password: secrets.app_password,
    database: APP_POOL_DB,
    ssl,
  });

describe('a Hetzner host, as user-data sets it up', () => {
  it('migrates the default schema as the owner role (powerhouse-migrate), and the ingest role may only insert', async () => {
    expect(migrateOutput).toMatch(
      /^ingest --migrate: applied migrations .*; privileges set on 2 allowlisted table/m,
    );
    const rows = await superuserQuery(
      `select c.relname, pg_get_userbyid(c.relowner) as owner,
                has_table_privilege($1, c.oid, 'INSERT') as ins, has_table_privilege($1, c.oid, 'DELETE') as del
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'public' and c.relkind = 'r' order by 1`,
      [ROLES.ingest],
    );
    expect(rows).toEqual([
      { relname: 'file_rows', owner: ROLES.owner, ins: true, del: false },
      { relname: 'tm_entries', owner: ROLES.owner, ins: true, del: false },
    ]);
  });

  (CADDY ? it : it.skip)(
    'takes an upload over HTTPS with the pinned self-signed certificate and the token Terraform outputs',
    async () => {
      const ca = fs.readFileSync(path.join(dir, 'tls', 'ingest.crt'));
      const rows = Array.from({ length: 500 }, (_, i) =>
        JSON.stringify({ tm_id: 7, source: `s${i}`, target: `t${i}` }),
      );
      const up = await request(httpsPort, 'POST', '/v1/tables/tm_entries/uploads', {
        ca,
        token: secrets.ingest_token,
        type: 'application/x-ndjson',
        body: rows.join('\n') + '\n',
      });
      expect([up.status, JSON.parse(up.body).rows]).toEqual([201, 500]);
      const ready = await request(httpsPort, 'GET', '/readyz', { ca });
      expect(ready.status).toBe(200);
      const denied = await request(httpsPort, 'POST', '/v1/tables/tm_entries/uploads', {
        ca,
        token: secrets.admin_token,
        type: 'application/x-ndjson',
        body: '{}\n',
      });
      expect(denied.status).toBe(401);
      const admin = await request(httpsPort, 'GET', '/v1/admin/pgbouncer', {
        ca,
        token: secrets.admin_token,
      });
      expect(admin.status).toBe(200);
      // A client that does not pin the certificate is refused by TLS itself.
      await expect(request(httpsPort, 'GET', '/healthz')).rejects.toThrow(/self[- ]signed/);
      // The app's view of the rows: through PgBouncer, over TLS with PgBouncer's pinned certificate.
      const c = appClient({ ca: fs.readFileSync(bouncerCa, 'utf8') });
      await c.connect();
      try {
        const { rows: n } = await c.query('select count(*)::int as n from tm_entries where tm_id = 7');
        expect(n).toEqual([{ n: 500 }]);
      } finally {
        await c.end();
      }
    },
  );

  (CADDY ? it : it.skip)(
    "connects a desktop as the README says: pinned SDK and CLI uploads through Caddy, a wrong pin sends nothing, a translator's token added and revoked over HTTPS without a restart",
    async () => {
      const pem = fs.readFileSync(path.join(dir, 'tls', 'ingest.crt'), 'utf8');
      const fingerprint = new X509Certificate(pem).fingerprint256;
      const endpoint = `https://127.0.0.1:${httpsPort}`;
      const count = async (tag: string) =>
        (
          await superuserQuery('select count(*)::int as n from tm_entries where source like $1', [`${tag}%`])
        )[0].n as number;
      const rows = (tag: string, n: number) =>
        Array.from({ length: n }, (_, i) => ({ tm_id: 17, source: `${tag}${i}`, target: `t${i}` }));

      // The admin makes a token for one translator through the admin route on the HTTPS port.
      const anna = await addToken(endpoint, secrets.admin_token, 'anna', ['tm_entries'], { fingerprint });
      expect(anna).toMatchObject({ name: 'anna', tables: ['tm_entries'] });

      // The SDK with either pin.
      const byFp = await uploadRows(endpoint, anna.token, 'tm_entries', rows('fp', 300), { fingerprint });
      const byCa = await uploadRows(endpoint, anna.token, 'tm_entries', rows('ca', 200), { ca: pem });
      expect([byFp.rows, byCa.rows, await count('fp'), await count('ca')]).toEqual([300, 200, 300, 200]);

      // A wrong pin: refused at once, both fingerprints named, not retried, nothing stored.
      const wrong = fingerprint.replace(/^../, fingerprint.startsWith('00') ? '11' : '00');
      const err = await uploadRows(endpoint, anna.token, 'tm_entries', rows('wrong', 5), {
        fingerprint: wrong,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CertificateTrustError);
      expect((err as Error).message).toContain(
        `expected SHA-256 ${wrong}, the server presented ${fingerprint}`,
      );
      expect(await count('wrong')).toBe(0);

      // The CLI, as the translator runs it: token and pin from the environment.
      const file = path.join(dir, 'desktop.csv');
      fs.writeFileSync(
        file,
        'tm_id,source,target\n' +
          rows('cli', 50)
            .map((r) => `17,${r.source},${r.target}`)
            .join('\n') +
          '\n',
      );
      const powerhouse = (args: string[], env: Record<string, string>) =>
        spawnSync(process.execPath, [path.join(__dirname, '../../bin/powerhouse.js'), ...args], {
          encoding: 'utf8',
          env: { PATH: process.env.PATH, HOME: dir, ...env },
        });
      const up = powerhouse(['upload', file, '--table', 'tm_entries', '--endpoint', endpoint], {
        POWERHOUSE_INGEST_TOKEN: anna.token,
        POWERHOUSE_INGEST_FINGERPRINT: fingerprint,
      });
      expect([up.status, up.stderr]).toEqual([0, '']);
      expect(await count('cli')).toBe(50);
      const unpinned = powerhouse(['upload', file, '--table', 'tm_entries', '--endpoint', endpoint], {
        POWERHOUSE_INGEST_TOKEN: anna.token,
      });
      expect(unpinned.status).toBe(6);
      expect(unpinned.stderr).toContain('DEPTH_ZERO_SELF_SIGNED_CERT');
      expect(unpinned.stderr).not.toContain(anna.token);

      // Which token uploaded what, over HTTPS.
      const records = await listUploads(
        endpoint,
        secrets.admin_token,
        { token: 'anna', since: '1h' },
        { fingerprint },
      );
      expect(records.map((r) => r.rows).sort((a, b) => a - b)).toEqual([50, 200, 300]);

      // Revoked with the CLI over HTTPS: the next upload is 401, and the worker was not restarted.
      const workerPid = workerProcess.pid;
      const revoke = powerhouse(
        ['token', 'revoke', 'anna', '--endpoint', endpoint, '--ca', path.join(dir, 'tls', 'ingest.crt')],
        {
          POWERHOUSE_ADMIN_TOKEN: secrets.admin_token,
        },
      );
      expect([revoke.status, revoke.stderr]).toEqual([0, '']);
      const after = await uploadRows(endpoint, anna.token, 'tm_entries', rows('late', 5), {
        fingerprint,
      }).catch((e: unknown) => e);
      expect(after).toMatchObject({ name: 'UploadRejectedError', status: 401 });
      expect([workerProcess.pid, workerProcess.exitCode]).toEqual([workerPid, null]);
    },
  );

  it("makes PgBouncer's certificate for the host's addresses, readable by PgBouncer's group only, and a 0644 copy", () => {
    const key = fs.statSync(path.join(bouncerTlsDir, 'pgbouncer.key'));
    expect([(key.mode & 0o777).toString(8), key.gid]).toEqual(['640', ensureServiceUser().gid]);
    expect((fs.statSync(bouncerTlsDir).mode & 0o777).toString(8)).toBe('750');
    expect((fs.statSync(bouncerCa).mode & 0o777).toString(8)).toBe('644');
    const cert = fs.readFileSync(path.join(bouncerTlsDir, 'pgbouncer.crt'), 'utf8');
    expect(fs.readFileSync(bouncerCa, 'utf8')).toBe(cert);
    const san = execFileSync('openssl', ['x509', '-noout', '-subject', '-ext', 'subjectAltName'], {
      input: cert,
      encoding: 'utf8',
    });
    expect(san).toMatch(/CN = powerhouse-pgbouncer/);
    expect(san).toContain(
      `IP Address:${PUBLIC_IP}, IP Address:${PRIVATE_NETWORK.serverIp}, IP Address:127.0.0.1\n`,
    );
  });

  it('refuses a plaintext client at PgBouncer, and takes clients that verify its certificate', async () => {
    await expect(appClient(false).connect()).rejects.toMatchObject({
      severity: 'FATAL',
      code: '08P01',
      message: 'SSL required',
    });
    const env = { PATH: process.env.PATH, PGPASSWORD: secrets.app_password, PGCONNECT_TIMEOUT: '10' };
    const psql = (conninfo: string) =>
      spawnSync('psql', ['-X', '-At', '-d', conninfo, '-c', 'SELECT 1'], { encoding: 'utf8', env });
    const base = `host=127.0.0.1 port=${bouncer.port} dbname=${APP_POOL_DB} user=${ROLES.app}`;
    const plain = psql(`${base} sslmode=disable`);
    expect([plain.status, plain.stderr]).toEqual([2, expect.stringMatching(/SSL required/)]);
    // psql's default (sslmode=prefer) negotiates TLS, so a plain `psql -h` on the server still gets in.
    expect(psql(base)).toMatchObject({ status: 0, stdout: '1\n' });
    expect(psql(`${base} sslmode=verify-full sslrootcert=${bouncerCa}`)).toMatchObject({
      status: 0,
      stdout: '1\n',
    });

    const c = appClient({ ca: fs.readFileSync(bouncerCa, 'utf8') });
    await c.connect();
    try {
      const socket = (c as unknown as { connection: { stream: TLSSocket } }).connection.stream;
      expect([socket.encrypted, socket.authorized]).toEqual([true, true]);
    } finally {
      await c.end();
    }
  });

  it("passes the bootstrap's PgBouncer probe, which connects over TLS and verifies the certificate", () => {
    const line = /^\s*if probe=\$\((.*) 2>&1 >\/dev\/null\); then$/m.exec(text(HOST.bootstrap));
    expect(line).not.toBeNull();
    let probe = moved(line![1], `PGSSLROOTCERT=${HOST.pgbouncerCa} `, `PGSSLROOTCERT=${bouncerCa} `, 1);
    probe = moved(probe, ' -p 6432 ', ` -p ${bouncer.port} `, 1);
    const r = spawnSync('bash', ['-c', probe], {
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        [SECRET_ENV.bouncer_stats_password]: secrets.bouncer_stats_password,
        PGCONNECT_TIMEOUT: '10',
      },
    });
    // stderr is in the comparison for its message when the probe fails.
    expect([r.status, r.stdout, r.stderr]).toEqual([
      0,
      expect.stringMatching(/^PgBouncer 1\.\d+/),
      expect.not.stringMatching(/psql|SSL|certificate/),
    ]);
  });

  it('uploads through the worker, whose connections to PgBouncer are all verified TLS', async () => {
    const rows = Array.from({ length: 200 }, (_, i) =>
      JSON.stringify({ tm_id: 8, source: `w${i}`, target: `v${i}` }),
    );
    const up = await fetch(`http://127.0.0.1:${workerPort}/v1/tables/tm_entries/uploads`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secrets.ingest_token}`, 'content-type': 'application/x-ndjson' },
      body: rows.join('\n') + '\n',
    });
    expect([up.status, ((await up.json()) as { rows: number }).rows]).toEqual([201, 200]);
    // The worker's console URL (the stats user, also over verified TLS) answers its admin route.
    const admin = await fetch(`http://127.0.0.1:${workerPort}/v1/admin/pgbouncer`, {
      headers: { authorization: `Bearer ${secrets.admin_token}` },
    });
    expect(admin.status).toBe(200);

    const stats = new Client({
      host: '127.0.0.1',
      port: bouncer.port,
      user: ROLES.bouncerStats,
      password: secrets.bouncer_stats_password,
      database: 'pgbouncer',
      ssl: { ca: fs.readFileSync(bouncerCa, 'utf8') },
    });
    await stats.connect();
    try {
      const { rows: clients } = await stats.query<{ user: string; database: string; tls: string }>(
        'SHOW CLIENTS',
      );
      const worker = clients.filter((x) => x.user === ROLES.ingest);
      expect(worker.length).toBeGreaterThan(0);
      for (const w of worker)
        expect([w.database, w.tls]).toEqual(['powerhouse_ingest', expect.stringMatching(/^TLSv1\.3\//)]);
      // Every client PgBouncer has is on TLS: it has refused the plaintext ones.
      expect(clients.filter((x) => !x.tls)).toEqual([]);
    } finally {
      await stats.end();
    }
  });

  (CADDY ? it : it.skip)(
    'serves the ops dashboard from the worker bundle through Caddy to admin_cidrs, and 403 to anyone else',
    async () => {
      const ca = fs.readFileSync(path.join(dir, 'tls', 'ingest.crt'));
      const get = (p: string, token?: string) => request(httpsPort, 'GET', p, { ca, token });
      // admin_cidrs = [127.0.0.1/32]: the page, its assets (built into the bundle) and the status.
      const page = await get('/admin');
      expect([page.status, page.headers['content-security-policy']]).toEqual([
        200,
        expect.stringContaining("script-src 'self'"),
      ]);
      expect((await get('/admin/dashboard.js')).body).toContain('/v1/admin/status');
      const status = await get('/v1/admin/status', secrets.admin_token);
      expect(status.status).toBe(200);
      expect(JSON.parse(status.body)).toMatchObject({ pollMs: 2000, worker: { live: [] } });
      expect((await get('/v1/admin/status')).status).toBe(401); // the worker's own check behind Caddy's

      // admin_cidrs without this client's address: Caddy refuses the admin routes itself; uploads go on.
      const reload = () =>
        spawnSync(
          CADDY!,
          [
            'reload',
            '--config',
            path.join(dir, 'Caddyfile'),
            '--adapter',
            'caddyfile',
            '--address',
            caddyAdmin,
          ],
          { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: dir } },
        );
      fs.writeFileSync(adminNetworks, caddyAdminNetworks('192.0.2.0/24 2001:db8::/32'));
      try {
        const r = reload();
        expect([r.status, r.stderr]).toEqual([0, expect.any(String)]);
        for (const p of ['/admin', '/admin/dashboard.js', '/v1/admin/status', '/v1/admin/tokens']) {
          const refused = await get(p, secrets.admin_token);
          expect([
            p,
            refused.status,
            refused.headers['content-type'],
            JSON.parse(refused.body).error,
          ]).toEqual([p, 403, 'application/json; charset=utf-8', 'forbidden']);
        }
        expect((await get('/readyz')).status).toBe(200);
        const up = await request(httpsPort, 'POST', '/v1/tables/tm_entries/uploads', {
          ca,
          token: secrets.ingest_token,
          type: 'application/x-ndjson',
          body: '{"tm_id":8,"source":"s","target":"t"}\n',
        });
        expect(up.status).toBe(201);
      } finally {
        fs.writeFileSync(adminNetworks, caddyAdminNetworks('127.0.0.1/32'));
        expect(reload().status).toBe(0);
      }
      expect((await get('/admin')).status).toBe(200);
    },
  );

  it('answers the worker directly on loopback, where Caddy forwards to', async () => {
    const r = await fetch(`http://127.0.0.1:${workerPort}/healthz`);
    expect([r.status, await r.json()]).toEqual([200, { status: 'ok' }]);
  });
});

// PgBouncer's client TLS as rendered, on a real PgBouncer in front of a real PostgreSQL 16: the certificate is
// made by the host's own powerhouse-tls-cert script (stacks/host-files.ts), readable by PgBouncer's user through
// its group only, and clients that verify it get in over TLS while plaintext and unverifiable clients do not.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { Client, type ClientConfig } from 'pg';
import {
  APP_POOL_DB,
  type BouncerClientTls,
  customTier,
  DATABASE,
  dsn,
  render,
  renderedFile,
  renderUserlist,
  ROLES,
  scramVerifier,
  tune,
} from '../../config-templates';
import { isRoot, ensureServiceUser } from '../../stacks/local-processes/os-user';
import { tlsCertScript } from '../../stacks/host-files';
import {
  makeTestDir,
  randomPassword,
  startTestPgBouncer,
  startTestPostgres,
  stopAllTestServers,
  type TestPostgres,
} from '../harness';

const run = promisify(execFile);
afterAll(stopAllTestServers);

const s = tune(customTier({ cores: 2, ramMiB: 4096, disk: 'nvme' }, 10), { lz4: false });
const passwords = { app: randomPassword(), stats: randomPassword() };
const verifiers = { app: scramVerifier(passwords.app), stats: scramVerifier(passwords.stats) };
const userlist = renderUserlist([
  { name: ROLES.app, verifier: verifiers.app },
  { name: ROLES.bouncerStats, verifier: verifiers.stats },
]);

/** The rendered pgbouncer.ini for a test PgBouncer (logging to stderr, as startTestPgBouncer wants). */
function ini(
  ctx: { port: number; paths: { userlistFile: string; socketDir: string; pidFile: string } },
  pgPort: number,
  clientTls?: BouncerClientTls,
): string {
  const files = render(s, {
    pgPort,
    bouncerPort: ctx.port,
    bouncerListen: '127.0.0.1',
    bouncer: {
      authFile: ctx.paths.userlistFile,
      unixSocketDir: ctx.paths.socketDir,
      pidFile: ctx.paths.pidFile,
      logFile: undefined,
      clientTls,
    },
  });
  return renderedFile(files, 'pgbouncer/pgbouncer.ini').content;
}

/** Runs the host's powerhouse-tls-cert with bash, as the bootstrap would (`--name NAME DIR GROUP HOST...`). */
function makeCert(scriptDir: string, args: string[]): string {
  const script = path.join(scriptDir, 'powerhouse-tls-cert');
  fs.writeFileSync(script, tlsCertScript(), { mode: 0o755 });
  return execFileSync('bash', [script, ...args], { encoding: 'utf8' });
}

const groupName = (gid: number) =>
  execFileSync('getent', ['group', String(gid)], { encoding: 'utf8' }).split(':')[0];

describe('PgBouncer client TLS with the rendered ini and the host certificate script', () => {
  const user = ensureServiceUser();
  let pg: TestPostgres;
  let port: number;
  let socketDir: string;
  let tlsDir: string;
  let cert: string;
  let wrongCa: string;
  let wrongCaFile: string;
  let logFile: string;

  beforeAll(async () => {
    // The certificate as the host makes it: a directory and key of group <PgBouncer's user>, mode 0750/0640,
    // for the host's addresses, plus the DNS name the Docker stack's containers would use.
    const { dir } = makeTestDir('powerhouse-tls-');
    tlsDir = path.join(dir, 'pgbouncer-tls');
    const out = makeCert(dir, [
      '--name',
      'pgbouncer',
      tlsDir,
      groupName(user.gid),
      '127.0.0.1',
      '10.42.1.10',
      'pgbouncer',
    ]);
    expect(out).toMatch(/^sha256 Fingerprint=/m);
    cert = fs.readFileSync(path.join(tlsDir, 'pgbouncer.crt'), 'utf8');
    // Another certificate from the same script, called as the bootstrap calls it for the ingest endpoint (no
    // --name): a client that pins it must not accept PgBouncer's.
    makeCert(dir, [path.join(dir, 'other'), groupName(user.gid), '127.0.0.1']);
    wrongCaFile = path.join(dir, 'other', 'ingest.crt');
    wrongCa = fs.readFileSync(wrongCaFile, 'utf8');

    pg = await startTestPostgres({ hba: renderedFile(render(s), 'postgresql/pg_hba.conf').content });
    const c = new Client({ connectionString: pg.url });
    await c.connect();
    await c.query(`CREATE DATABASE ${DATABASE}`);
    await c.query(`CREATE ROLE ${ROLES.app} LOGIN PASSWORD '${verifiers.app}'`);
    await c.end();

    const bouncer = await startTestPgBouncer({
      userlist,
      ini: (ctx) =>
        ini(ctx, pg.port, {
          keyFile: path.join(tlsDir, 'pgbouncer.key'),
          certFile: path.join(tlsDir, 'pgbouncer.crt'),
        }),
    });
    port = bouncer.port;
    socketDir = bouncer.paths.socketDir;
    logFile = bouncer.server.logFile;
  }, 120_000);

  const appClient = (ssl: ClientConfig['ssl'], database = APP_POOL_DB) =>
    new Client({ host: '127.0.0.1', port, database, user: ROLES.app, password: passwords.app, ssl });

  it('makes the certificate and key readable by the PgBouncer user through its group only', () => {
    const key = fs.statSync(path.join(tlsDir, 'pgbouncer.key'));
    expect([(key.mode & 0o777).toString(8), key.gid]).toEqual(['640', user.gid]);
    expect((fs.statSync(tlsDir).mode & 0o777).toString(8)).toBe('750');
    if (isRoot()) expect(key.uid).toBe(0); // PgBouncer (uid user.uid) reads it as group, not as owner
    const san = execFileSync('openssl', ['x509', '-noout', '-subject', '-ext', 'subjectAltName'], {
      input: cert,
      encoding: 'utf8',
    });
    expect(san).toMatch(/CN = powerhouse-pgbouncer/);
    expect(san).toMatch(/IP Address:127\.0\.0\.1, IP Address:10\.42\.1\.10, DNS:pgbouncer\n/);
    // Without --name the script makes the ingest endpoint's certificate, as before.
    expect(
      execFileSync('openssl', ['x509', '-noout', '-subject'], { input: wrongCa, encoding: 'utf8' }),
    ).toMatch(/CN = powerhouse-ingest/);
  });

  it('lets a client that verifies the certificate in over TLS, and SHOW CLIENTS reports TLS', async () => {
    const c = appClient({ ca: cert, rejectUnauthorized: true });
    await c.connect();
    try {
      const r = await c.query('SELECT 1 AS one, current_user AS who');
      expect(r.rows).toEqual([{ one: 1, who: ROLES.app }]);
      const socket = (c as unknown as { connection: { stream: TLSSocket } }).connection.stream;
      expect([socket.encrypted, socket.authorized, socket.getProtocol()]).toEqual([true, true, 'TLSv1.3']);

      const admin = new Client({
        host: '127.0.0.1',
        port,
        database: 'pgbouncer',
        user: ROLES.bouncerStats,
        password: passwords.stats,
        ssl: { ca: cert },
      });
      await admin.connect();
      try {
        const clients = await admin.query<{ user: string; database: string; tls: string }>('SHOW CLIENTS');
        const app = clients.rows.filter((x) => x.user === ROLES.app && x.database === APP_POOL_DB);
        expect(app).toHaveLength(1);
        expect(app[0].tls).toMatch(/^TLSv1\.3\/TLS_AES_\d+_GCM_SHA\d+/);
        const cfg = new Map(
          (await admin.query<{ key: string; value: string }>('SHOW CONFIG')).rows.map((x) => [
            x.key,
            x.value,
          ]),
        );
        expect(cfg.get('client_tls_sslmode')).toBe('require');
        expect(cfg.get('client_tls_protocols')).toBe('secure');
        expect(cfg.get('client_tls_ciphers')).toBe('secure');
        // The server side is not rendered: PgBouncer's default (disable up to 1.20, prefer from 1.21).
        expect(cfg.get('server_tls_sslmode')).toMatch(/^(disable|prefer)$/);
      } finally {
        await admin.end();
      }
    } finally {
      await c.end();
    }
  });

  it('takes TLS 1.2 clients with a forward-secret AEAD suite, and no TLS 1.1', async () => {
    const c = appClient({ ca: cert, maxVersion: 'TLSv1.2' });
    await c.connect();
    try {
      const socket = (c as unknown as { connection: { stream: TLSSocket } }).connection.stream;
      expect(socket.getProtocol()).toBe('TLSv1.2');
      expect(socket.getCipher().name).toMatch(/^ECDHE-ECDSA-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)$/);
    } finally {
      await c.end();
    }
    const old = appClient({
      ca: cert,
      minVersion: 'TLSv1',
      maxVersion: 'TLSv1.1',
      ciphers: 'DEFAULT@SECLEVEL=0',
    });
    await expect(old.connect()).rejects.toThrow(/alert protocol version/);
  });

  it('verifies the DNS name a container would connect by, and refuses a name not in the certificate', async () => {
    const c = appClient({ ca: cert, servername: 'pgbouncer' });
    await c.connect();
    await c.end();
    await expect(appClient({ ca: cert, servername: 'postgres' }).connect()).rejects.toThrow(
      /Hostname\/IP does not match certificate's altnames/,
    );
  });

  it('accepts the worker-style URL with sslmode=verify-full and sslrootcert', async () => {
    const url = dsn({
      user: ROLES.app,
      password: passwords.app,
      host: '127.0.0.1',
      port,
      database: APP_POOL_DB,
      params: { sslmode: 'verify-full', sslrootcert: path.join(tlsDir, 'pgbouncer.crt') },
    });
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await c.end();
    }
  });

  it("refuses a plaintext client with PgBouncer's error", async () => {
    const c = appClient(false);
    await expect(c.connect()).rejects.toMatchObject({
      severity: 'FATAL',
      code: '08P01',
      message: 'SSL required',
    });
    const log = fs.readFileSync(logFile, 'utf8');
    expect(log).toMatch(/SSL required/);
  });

  it('fails verification for a client that pins another certificate', async () => {
    await expect(appClient({ ca: wrongCa, rejectUnauthorized: true }).connect()).rejects.toThrow(
      /self[- ]signed certificate/,
    );
    // Without a CA at all, Node's default (the public CAs) cannot verify a self-signed certificate either.
    await expect(appClient({ rejectUnauthorized: true }).connect()).rejects.toThrow(
      /self[- ]signed certificate/,
    );
  });

  it('refuses psql with sslmode=disable and takes verify-ca and verify-full with the certificate', async () => {
    const env = { ...process.env, PGPASSWORD: passwords.app, PGCONNECT_TIMEOUT: '10' };
    const psql = (conninfo: string) =>
      run('psql', ['-X', '-At', '-d', conninfo, '-c', 'SELECT 1'], { env, timeout: 30_000 });
    const base = `host=127.0.0.1 port=${port} dbname=${APP_POOL_DB} user=${ROLES.app}`;
    const root = path.join(tlsDir, 'pgbouncer.crt');

    await expect(psql(`${base} sslmode=disable`)).rejects.toMatchObject({
      stderr: expect.stringMatching(/SSL required/),
    });
    for (const mode of ['verify-ca', 'verify-full']) {
      const { stdout } = await psql(`${base} sslmode=${mode} sslrootcert=${root}`);
      expect([mode, stdout.trim()]).toEqual([mode, '1']);
    }
    // psql pinning another certificate: the server certificate is not trusted.
    await expect(psql(`${base} sslmode=verify-ca sslrootcert=${wrongCaFile}`)).rejects.toMatchObject({
      stderr: expect.stringMatching(/certificate verify failed/),
    });
  });

  it('leaves the unix socket without TLS (PgBouncer never uses TLS there), for local clients', async () => {
    const c = new Client({
      host: socketDir,
      port,
      database: APP_POOL_DB,
      user: ROLES.app,
      password: passwords.app,
    });
    await c.connect();
    try {
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await c.end();
    }
  });

  if (!isRoot())
    console.warn(
      'not root: the test of a TLS key PgBouncer cannot read is SKIPPED (run the tests as root, as .ci/run does)',
    );
  (isRoot() ? it : it.skip)(
    'does not start when its user cannot read the key: the certificate must exist before PgBouncer starts',
    async () => {
      const { dir } = makeTestDir('powerhouse-tls-bad-');
      const bad = path.join(dir, 'root-only');
      makeCert(dir, ['--name', 'pgbouncer', bad, groupName(user.gid), '127.0.0.1']);
      fs.chownSync(path.join(bad, 'pgbouncer.key'), 0, 0); // the certificate readable, the key root's only
      await expect(
        startTestPgBouncer({
          userlist,
          ini: (ctx) =>
            ini(ctx, pg.port, {
              keyFile: path.join(bad, 'pgbouncer.key'),
              certFile: path.join(bad, 'pgbouncer.crt'),
            }),
        }),
      ).rejects.toThrow(/exited with code 1 during start-up[\s\S]*failed to load private key file/);
    },
    60_000,
  );
});

describe('rendered pgbouncer.ini without clientTls', () => {
  const ctx = { port: 6432, paths: { userlistFile: '/u', socketDir: '/s', pidFile: '/p' } };

  it('has no client_tls line and is the TLS ini minus its TLS lines', () => {
    const plain = ini(ctx, 5432);
    const tls = ini(ctx, 5432, { keyFile: '/k/pgbouncer.key', certFile: '/k/pgbouncer.crt' });
    expect(plain).not.toMatch(/client_tls/);
    expect(plain).not.toMatch(/server_tls/);
    expect(tls).not.toMatch(/server_tls/);
    const tlsLines = tls
      .split('\n')
      .filter((l, i, all) => /^client_tls_/.test(l) || /^client_tls_/.test(all[i + 1] ?? ''));
    expect(tlsLines.filter((l) => l.startsWith(';'))).toHaveLength(5); // each value has its reason above it
    expect(
      tls
        .split('\n')
        .filter((l) => !tlsLines.includes(l))
        .join('\n'),
    ).toBe(plain);
    expect(tlsLines.filter((l) => !l.startsWith(';'))).toEqual([
      'client_tls_sslmode = require',
      'client_tls_key_file = /k/pgbouncer.key',
      'client_tls_cert_file = /k/pgbouncer.crt',
      'client_tls_protocols = secure',
      'client_tls_ciphers = secure',
    ]);
  });

  it('is what render() gives by default, as the loopback-only local-processes stack uses it', () => {
    const ini = renderedFile(render(s), 'pgbouncer/pgbouncer.ini').content;
    expect(ini).not.toMatch(/client_tls/);
  });
});

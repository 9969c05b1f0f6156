// `powerhouse doctor` as a translator's support person runs it: `node bin/powerhouse.js doctor …` as a child
// process against the real local stack (PostgreSQL 16 + PgBouncer + the worker on 127.0.0.1), and for HTTPS
// against Caddy in front of that worker with the host's Caddyfile and certificates made by the host's TLS
// script. One failure kind per test: the failing line, the skip lines after it, the exit code, and that no
// token value is ever printed.
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { addToken } from '../../ingest/client/admin';
import { freePort } from '../../stacks/local-processes/free-port';
import { CHECKS } from '../../cli/commands/doctor';
import { startClientStack, type ClientStack } from '../client/client-stack';
import { CADDY, makeTestCertificate, startTestCaddy, type TestCaddy } from '../harness/tls';

jest.setTimeout(120_000);

const ROOT = path.join(__dirname, '../..');
if (!CADDY)
  console.warn('caddy is absent: the HTTPS cases of the doctor test are SKIPPED (apt-get install caddy)');
const withCaddy = CADDY ? test : test.skip;

let s: ClientStack;
let dir: string;
let caddy: TestCaddy | undefined;
/** Caddy's ports: the good certificate, and an expired one. */
let httpsPort: number;
let expiredPort: number;
/** The certificate Caddy serves, a second one it does not (for a wrong pin), and the expired one. */
const certs: Record<'good' | 'other' | 'expired', { file: string; fingerprint: string }> = {} as never;
/** A token limited to tm_entries, made through the admin route. */
let limited: string;
/** Every token value this test knows: none may appear in any output. */
const secrets: string[] = [];
const BAD_TOKEN = 'not-a-real-token-0123456789';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  lines: string[];
}

/** The environment of a desktop with nothing configured. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('POWERHOUSE_')) delete env[k];
  return env;
}

async function doctor(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const r = await new Promise<Run>((resolve) => {
    execFile(
      process.execPath,
      [path.join(ROOT, 'bin/powerhouse.js'), 'doctor', ...args],
      { cwd: dir, env: { ...cleanEnv(), ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({
          code: typeof code === 'number' ? code : 1,
          stdout,
          stderr,
          lines: stdout.split('\n').filter(Boolean),
        });
      },
    );
  });
  // No token value, in any output of any run.
  for (const t of [...secrets, BAD_TOKEN]) expect(r.stdout + r.stderr).not.toContain(t);
  return r;
}

/** The line of one check (the first, for `table`). */
const line = (r: Run, check: string) => r.lines.find((l) => l.slice(6).startsWith(`${check} `)) ?? '';

/** Every check after `failed` says skip, needing it. */
function expectSkippedAfter(r: Run, failed: string) {
  const after = CHECKS.slice(CHECKS.indexOf(failed as (typeof CHECKS)[number]) + 1);
  for (const c of after) expect(line(r, c)).toMatch(new RegExp(`^skip  ${c} +\\(needs ${failed}\\)$`));
  expect(r.lines.filter((l) => l.startsWith('FAIL'))).toHaveLength(1);
}

function expectAllOk(r: Run) {
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  for (const c of CHECKS) expect(line(r, c)).toMatch(new RegExp(`^ok    ${c} +\\S`));
  expect(r.lines.every((l) => l.startsWith('ok    '))).toBe(true);
}

const sh = (script: string, cwd: string) => {
  const r = spawnSync('bash', ['-c', script], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script}: ${r.stderr}`);
  return r.stdout;
};

function makeCert(name: 'good' | 'other') {
  const c = makeTestCertificate(dir, name);
  certs[name] = { file: c.crtFile, fingerprint: c.fingerprint };
}

/** A certificate for 127.0.0.1 valid for one day in 2020, signed by openssl's `ca` (req cannot backdate). */
function makeExpiredCert() {
  const out = path.join(dir, 'expired');
  fs.mkdirSync(out);
  fs.writeFileSync(
    path.join(out, 'ca.cnf'),
    '[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\ndefault_md=sha256\n' +
      'policy=p\ncopy_extensions=copy\n[p]\ncommonName=supplied\n',
  );
  sh(
    'touch index.txt && echo 01 > serial && ' +
      'openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=powerhouse-expired ' +
      '-addext subjectAltName=IP:127.0.0.1 -keyout ingest.key -out ingest.csr 2>/dev/null && ' +
      'openssl ca -batch -config ca.cnf -selfsign -keyfile ingest.key -in ingest.csr ' +
      '-startdate 20200101000000Z -enddate 20200102000000Z -out ingest.crt 2>/dev/null',
    out,
  );
  const file = path.join(out, 'ingest.crt');
  certs.expired = { file, fingerprint: new X509Certificate(fs.readFileSync(file)).fingerprint256 };
}

/** The host's Caddyfile in front of the worker, plus a second site with the expired certificate. */
async function startCaddy(workerPort: number) {
  const key = (name: string) => path.join(dir, name, 'ingest.key');
  caddy = await startTestCaddy(dir, `127.0.0.1:${workerPort}`, [
    { crtFile: certs.good.file, keyFile: key('good') },
    { crtFile: certs.expired.file, keyFile: key('expired') },
  ]);
  [httpsPort, expiredPort] = caddy.ports;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-doctor-'));
  s = await startClientStack('in-process');
  secrets.push(s.token, s.stack.adminToken);
  limited = (await addToken(s.url, s.stack.adminToken, 't1', ['tm_entries'])).token;
  secrets.push(limited);
  if (CADDY) {
    makeCert('good');
    makeCert('other');
    makeExpiredCert();
    await startCaddy(Number(new URL(s.url).port));
  }
});

afterAll(async () => {
  await caddy?.stop();
  await s?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('powerhouse doctor, plain HTTP (the local stack)', () => {
  test('all ok: every check passes, exit 0; the token by its name only', async () => {
    const r = await doctor(['--endpoint', s.url], { POWERHOUSE_INGEST_TOKEN: s.token });
    expectAllOk(r);
    expect(line(r, 'endpoint')).toBe(`ok    endpoint  ${s.url} (from --endpoint)`);
    expect(line(r, 'tcp')).toMatch(/^ok {4}tcp {7}connected to 127\.0\.0\.1:\d+ in \d+ ms$/);
    expect(line(r, 'tls')).toBe('ok    tls       not used (plain HTTP)');
    expect(line(r, 'pin')).toBe('ok    pin       not applicable (plain HTTP)');
    expect(line(r, 'token')).toBe(
      'ok    token     token "default" may write tm_entries, file_rows (from $POWERHOUSE_INGEST_TOKEN)',
    );
    const tables = r.lines.filter((l) => l.startsWith('ok    table '));
    expect(tables).toHaveLength(2);
    expect(tables).toContain(
      'ok    table     tm_entries: 5 writable columns (tm_id, source, target, created_by, created_at)',
    );
    expect(line(r, 'ready')).toMatch(/^ok {4}ready {5}ready \(database answered in [\d.]+ ms\)/);
  });

  test('--connect-info and --json: endpoint, token and tables from the file; an array of results', async () => {
    const info = path.join(dir, 'anna.json');
    fs.writeFileSync(
      info,
      JSON.stringify({
        version: 1,
        endpoint: s.url,
        tables: ['tm_entries'],
        token: limited,
        tokenName: 't1',
      }),
    );
    const r = await doctor(['--connect-info', info, '--json']);
    expect(r.code).toBe(0);
    const results = JSON.parse(r.stdout) as { check: string; status: string; detail: string }[];
    expect(results.map((x) => [x.check, x.status])).toEqual(CHECKS.map((c) => [c, 'ok']));
    expect(results.find((x) => x.check === 'token')?.detail).toBe(
      `token "t1" may write tm_entries (from connect info ${info})`,
    );
    expect(results.find((x) => x.check === 'table')?.detail).toMatch(/^tm_entries: 5 writable columns/);
    expect(results.every((x) => !('fix' in x))).toBe(true);
  });

  test('tcp refused: a port nothing listens on', async () => {
    const port = await freePort();
    const r = await doctor(['--endpoint', `http://127.0.0.1:${port}`], { POWERHOUSE_INGEST_TOKEN: s.token });
    expect(r.code).toBe(1);
    expect(line(r, 'endpoint')).toMatch(/^ok /);
    expect(line(r, 'tcp')).toBe(
      `FAIL  tcp       nothing listens on 127.0.0.1:${port} — fix: is the stack running (npm start / the server), the right port?`,
    );
    expectSkippedAfter(r, 'tcp');
  });

  test('endpoint: not a URL, and a warning (still ok) for plain HTTP to another host', async () => {
    const bad = await doctor(['--endpoint', 'ftp://127.0.0.1/x']);
    expect(bad.code).toBe(1);
    expect(line(bad, 'endpoint')).toMatch(
      /^FAIL {2}endpoint {2}"ftp:\/\/127\.0\.0\.1\/x" .* — fix: give the endpoint as/,
    );
    expectSkippedAfter(bad, 'endpoint');
    // 192.0.2.0/24 (TEST-NET-1) is never routed: only the endpoint line matters here, not the outcome of tcp.
    const warn = await doctor(['--endpoint', 'http://192.0.2.1:9', '--json']);
    const [first] = JSON.parse(warn.stdout) as { status: string; detail: string }[];
    expect(first).toEqual({
      check: 'endpoint',
      status: 'ok',
      detail:
        'http://192.0.2.1:9 (from --endpoint); warning: plain HTTP to a non-loopback host: tokens travel unencrypted',
    });
  });

  test('no token: FAIL token, the rest skipped', async () => {
    const r = await doctor(['--endpoint', s.url]);
    expect(r.code).toBe(1);
    expect(line(r, 'token')).toBe(
      'FAIL  token     no token — fix: --token, $POWERHOUSE_INGEST_TOKEN or a connect-info file with one',
    );
    expectSkippedAfter(r, 'token');
  });

  test('a token the endpoint refuses (401)', async () => {
    const r = await doctor(['--endpoint', s.url, '--token', BAD_TOKEN]);
    expect(r.code).toBe(1);
    expect(line(r, 'token')).toBe(
      'FAIL  token     token refused (401; the token from --token) — fix: ask your admin for a token (powerhouse token add NAME) or check POWERHOUSE_INGEST_TOKEN',
    );
    expectSkippedAfter(r, 'token');
  });

  test('a table not in the allowlist (404 unknown_table)', async () => {
    const r = await doctor(['--endpoint', s.url, '--table', 'tm_entrys'], {
      POWERHOUSE_INGEST_TOKEN: s.token,
    });
    expect(r.code).toBe(1);
    expect(line(r, 'token')).toMatch(/^ok /);
    expect(line(r, 'table')).toMatch(
      /^FAIL {2}table {5}tm_entrys: not in the endpoint's allowlist \(tables: tm_entries, file_rows\) — fix: check the table name/,
    );
    expectSkippedAfter(r, 'table');
  });

  test('a table the token may not write (403), from a token limited to tm_entries', async () => {
    const r = await doctor(['--endpoint', s.url, '--table', 'file_rows'], {
      POWERHOUSE_INGEST_TOKEN: limited,
    });
    expect(r.code).toBe(1);
    expect(line(r, 'token')).toBe(
      'ok    token     token "t1" may write tm_entries (from $POWERHOUSE_INGEST_TOKEN)',
    );
    expect(line(r, 'table')).toBe(
      'FAIL  table     file_rows: token "t1" may not write it (it may write: tm_entries) — fix: ask your admin for a token that may write it (powerhouse token add NAME --tables …)',
    );
    expectSkippedAfter(r, 'table');
  });

  test('a TLS failure: https:// to the worker’s plain-HTTP port', async () => {
    const port = new URL(s.url).port;
    const r = await doctor(['--endpoint', `https://127.0.0.1:${port}`], { POWERHOUSE_INGEST_TOKEN: s.token });
    expect(r.code).toBe(1);
    expect(line(r, 'tcp')).toMatch(/^ok /);
    expect(line(r, 'tls')).toMatch(
      new RegExp(
        `^FAIL  tls       TLS handshake with 127\\.0\\.0\\.1:${port} failed \\(\\S+\\) — fix: is this port serving HTTPS \\(http:// endpoint\\?\\)$`,
      ),
    );
    expectSkippedAfter(r, 'tls');
  });

  test('a pin on a plain-HTTP endpoint fails at pin', async () => {
    const r = await doctor(['--endpoint', s.url, '--fingerprint', 'AB'.repeat(32)], {
      POWERHOUSE_INGEST_TOKEN: s.token,
    });
    expect(r.code).toBe(1);
    expect(line(r, 'pin')).toMatch(/^FAIL {2}pin {7}a pinned certificate .* needs an https:\/\/ endpoint/);
    expectSkippedAfter(r, 'pin');
  });

  test('usage errors exit 2 with one line: a malformed --fingerprint, an unreadable --ca', async () => {
    const fp = await doctor(['--endpoint', s.url, '--fingerprint', 'zz']);
    expect(fp.code).toBe(2);
    expect(fp.stdout).toBe('');
    expect(fp.stderr).toBe(
      'powerhouse: --fingerprint must be a SHA-256 fingerprint (64 hex digits, colons optional), got "zz"\n',
    );
    const ca = await doctor(['--endpoint', s.url, '--ca', path.join(dir, 'missing.crt')]);
    expect(ca.code).toBe(2);
    expect(ca.stderr).toMatch(/^powerhouse: cannot read --ca .*missing\.crt: ENOENT.*\n$/);
  });
});

describe('powerhouse doctor, HTTPS through Caddy', () => {
  const url = () => `https://127.0.0.1:${httpsPort}`;
  const env = () => ({ POWERHOUSE_INGEST_TOKEN: s.token });

  withCaddy('no pin: FAIL pin, says how to get one', async () => {
    const r = await doctor(['--endpoint', url()], env());
    expect(r.code).toBe(1);
    expect(line(r, 'tls')).toMatch(
      /^ok {4}tls {7}TLSv1\.3, ALPN http\/1\.1, certificate CN=powerhouse-ingest, valid until \d{4}-\d\d-\d\d \(\d+ days\)$/,
    );
    expect(line(r, 'pin')).toBe(
      "FAIL  pin       no pinned certificate (the server's certificate is not trusted here: DEPTH_ZERO_SELF_SIGNED_CERT) — fix: pass --fingerprint or --ca (from the stack's connect_info output / powerhouse connect-info)",
    );
    expectSkippedAfter(r, 'pin');
  });

  withCaddy('a wrong pin: expected and presented fingerprints', async () => {
    const r = await doctor(['--endpoint', url(), '--fingerprint', certs.other.fingerprint], env());
    expect(r.code).toBe(1);
    expect(line(r, 'pin')).toBe(
      `FAIL  pin       certificate pin mismatch: expected SHA-256 ${certs.other.fingerprint}, the server presented ${certs.good.fingerprint} — fix: take it from the stack's connect_info output / powerhouse connect-info (if the server was rebuilt, its certificate changed; otherwise something else answers at this address)`,
    );
    expectSkippedAfter(r, 'pin');
    // The other certificate as --ca: the same verdict from the CA path.
    const ca = await doctor(['--endpoint', url(), '--ca', certs.other.file], env());
    expect(ca.code).toBe(1);
    expect(line(ca, 'pin')).toMatch(
      new RegExp(
        `^FAIL  pin       the certificate is not the pinned --ca one \\(\\w+\\): expected SHA-256 ${certs.other.fingerprint}, the server presented ${certs.good.fingerprint} — fix:`,
      ),
    );
  });

  withCaddy('a good pin with --fingerprint (in the form openssl prints it): all ok', async () => {
    const r = await doctor(
      ['--endpoint', url(), '--fingerprint', `sha256 Fingerprint=${certs.good.fingerprint}`],
      env(),
    );
    expectAllOk(r);
    expect(line(r, 'pin')).toBe(
      `ok    pin       the certificate matches the pinned SHA-256 ${certs.good.fingerprint}`,
    );
    expect(line(r, 'token')).toMatch(/^ok {4}token {5}token "default" may write tm_entries, file_rows/);
  });

  withCaddy('a good pin with --ca: all ok', async () => {
    const r = await doctor(['--endpoint', url(), '--ca', certs.good.file], env());
    expectAllOk(r);
    expect(line(r, 'pin')).toBe(
      `ok    pin       the certificate is verified by the pinned --ca (SHA-256 ${certs.good.fingerprint})`,
    );
  });

  withCaddy('an expired certificate: FAIL tls with its dates, even when pinned', async () => {
    const r = await doctor(
      ['--endpoint', `https://127.0.0.1:${expiredPort}`, '--fingerprint', certs.expired.fingerprint],
      env(),
    );
    expect(r.code).toBe(1);
    expect(line(r, 'tls')).toMatch(
      /^FAIL {2}tls {7}TLSv1\.3, ALPN http\/1\.1, certificate CN=powerhouse-expired expired on 2020-01-02 \(valid 2020-01-01 to 2020-01-02, today is \d{4}-\d\d-\d\d\) — fix: the server's certificate must be renewed/,
    );
    expectSkippedAfter(r, 'tls');
  });
});

// Last: it stops PostgreSQL under the worker.
describe('powerhouse doctor, a worker that cannot reach its database', () => {
  test('ready: FAIL with the reason /readyz gives, every other check ok', async () => {
    await s.stack.pg.stop('fast');
    const r = await doctor(['--endpoint', s.url, '--table', 'tm_entries'], {
      POWERHOUSE_INGEST_TOKEN: s.token,
    });
    expect(r.code).toBe(1);
    for (const c of CHECKS.slice(0, -1)) expect(line(r, c)).toMatch(/^ok /);
    expect(line(r, 'ready')).toMatch(
      /^FAIL {2}ready {5}not ready \(503\): database: .+ — fix: the server side \(ops\): the worker cannot reach its database or PgBouncer$/,
    );
  });
});

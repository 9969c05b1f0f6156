// The Python client (clients/python) against the real local stack: PostgreSQL 16 + PgBouncer + the worker as
// a child process, Caddy as the TLS front with a certificate from the host's TLS script, and a recording TLS
// server (another certificate) that counts what a client sends it. pytest gets them in POWERHOUSE_TEST_*
// variables, plus a control server on 127.0.0.1 through which it SIGKILLs the worker mid-upload, and the
// TypeScript SDK's golden bodies (golden.ts) to compare its own encoding with.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { startClientStack, type ClientStack } from '../client/client-stack';
import { CADDY, makeTestCertificate, startTestCaddy, type TestCaddy } from '../harness/tls';

jest.setTimeout(600_000);

const ROOT = path.join(__dirname, '..', '..');
if (!CADDY) console.warn('caddy is absent: the Python client TLS tests are SKIPPED (apt-get install caddy)');

let s: ClientStack;
let dir: string;
let caddy: TestCaddy | undefined;
let control: http.Server;
let recorder: tls.Server;
let pytest: ChildProcess | undefined;
const recorded = { connections: 0, bytes: 0 };
const certs: Record<string, { crt: string; key: string; fingerprint: string }> = {};

function makeCert(name: string): void {
  const c = makeTestCertificate(dir, name);
  certs[name] = { crt: c.crtFile, key: c.keyFile, fingerprint: c.fingerprint };
}

async function startCaddy(workerPort: number): Promise<number> {
  caddy = await startTestCaddy(dir, `127.0.0.1:${workerPort}`, [
    { crtFile: certs.good.crt, keyFile: certs.good.key },
  ]);
  return caddy.ports[0];
}

/** What pytest may ask of this side: kill the worker (and wait for it to be back), read the recorder. */
function startControl(): Promise<number> {
  control = http.createServer((req, res) => {
    const reply = (status: number, body: unknown) =>
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'POST' && req.url === '/kill-worker') {
      const before = s.stack.workerPid;
      s.stack.restartWorker('kill').then(
        () => reply(200, { killed: true, before, after: s.stack.workerPid }),
        (err: Error) => reply(500, { error: err.message }),
      );
    } else if (req.method === 'POST' && req.url === '/recorder-reset') {
      recorded.connections = 0;
      recorded.bytes = 0;
      reply(200, recorded);
    } else if (req.method === 'GET' && req.url === '/recorder') reply(200, recorded);
    else reply(404, { error: 'not_found' });
  });
  return new Promise((r) => control.listen(0, '127.0.0.1', () => r((control.address() as AddressInfo).port)));
}

/** A TLS server presenting the "other" certificate that counts connections and every byte sent after the handshake. */
function startRecorder(): Promise<number> {
  recorder = tls.createServer({
    cert: fs.readFileSync(certs.other.crt),
    key: fs.readFileSync(certs.other.key),
  });
  recorder.on('secureConnection', (socket) => {
    socket.on('data', (d: Buffer) => (recorded.bytes += d.length));
    socket.on('error', () => undefined);
  });
  recorder.on('connection', () => recorded.connections++);
  recorder.on('tlsClientError', () => undefined);
  return new Promise((r) =>
    recorder.listen(0, '127.0.0.1', () => r((recorder.address() as AddressInfo).port)),
  );
}

function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    pytest = child;
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-python-'));
  s = await startClientStack('child');
  makeCert('good');
  makeCert('other');
});

afterAll(async () => {
  // A run cut short by the timeout: stop the child this test started, not the stack under it first.
  if (pytest && pytest.exitCode === null && pytest.signalCode === null) pytest.kill('SIGKILL');
  await caddy?.stop();
  await Promise.all(
    [control, recorder].filter(Boolean).map((srv) => new Promise((r) => srv.close(() => r(undefined)))),
  );
  await s?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('passes the Python client test suite (pytest) against the real stack, byte-identical with the TypeScript SDK', async () => {
  const golden = path.join(dir, 'golden.json');
  const g = await run(process.execPath, ['--import', 'tsx', 'tests/python/golden.ts', golden], process.env);
  expect(g).toMatchObject({ code: 0 });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PYTHONDONTWRITEBYTECODE: '1',
    POWERHOUSE_TEST_ENDPOINT: s.url,
    POWERHOUSE_TEST_TOKEN: s.token,
    POWERHOUSE_TEST_DSN: s.stack.superuserUrl,
    POWERHOUSE_TEST_CONTROL: `http://127.0.0.1:${await startControl()}`,
    POWERHOUSE_GOLDEN_JSON: golden,
    POWERHOUSE_TEST_RECORDER_URL: `https://127.0.0.1:${await startRecorder()}`,
    POWERHOUSE_TEST_TLS_OTHER_FP: certs.other.fingerprint,
  };
  if (CADDY) {
    const port = await startCaddy(Number(new URL(s.url).port));
    Object.assign(env, {
      POWERHOUSE_TEST_TLS_URL: `https://127.0.0.1:${port}`,
      POWERHOUSE_TEST_TLS_FP: certs.good.fingerprint,
      POWERHOUSE_TEST_TLS_PEM: certs.good.crt,
    });
  }
  const t0 = Date.now();
  // POWERHOUSE_PYTEST_ARGS (e.g. "-k tls"): a subset while developing.
  const extra = (process.env.POWERHOUSE_PYTEST_ARGS ?? '').split(' ').filter(Boolean);
  const r = await run(
    'python3',
    ['-m', 'pytest', 'clients/python/tests', '-q', '-rs', '-p', 'no:cacheprovider', ...extra],
    env,
  );
  const summary = r.out.trim().split('\n').slice(-12).join('\n');
  console.log(`pytest (${Math.round((Date.now() - t0) / 1000)} s):\n${summary}`);
  if (r.code !== 0) {
    const caddyLog = path.join(dir, 'caddy.log');
    console.log(
      r.out +
        (fs.existsSync(caddyLog) ? `\ncaddy.log:\n${fs.readFileSync(caddyLog, 'utf8').slice(-3000)}` : ''),
    );
  }
  expect(r.code).toBe(0);
  expect(summary).toMatch(/\d+ passed/);
  expect(summary).not.toMatch(/failed|error/);
  // Everything ran: only optional pieces (SQLAlchemy, caddy) may be skipped.
  const skipped = r.out.split('\n').filter((l) => l.startsWith('SKIPPED'));
  for (const line of skipped) expect(line).toMatch(/SQLAlchemy|caddy|venv/);
  expect(r.out).not.toContain(s.token);
});

// An early answer must reach a client that is still sending, even one that asked for `Connection: close`.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { customTier } from '../../config-templates';
import { startLocalStack, type LocalStack } from '../../stacks/local-processes/stack';

let stack: LocalStack;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-early-'));

beforeAll(async () => {
  stack = await startLocalStack({
    dataDir,
    tier: customTier({ cores: 2, ramMiB: 4096, disk: 'nvme' }, 4, 'detect'),
    ingestPort: 0,
    bouncerPort: 0,
    logLevel: 'silent',
  });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/**
 * node:http as a plain client uses it: headers, then 8 MiB of TSV in 64 KiB writes with a pause between
 * them. Resolves with the status it read, or the error that ended the request first (EPIPE, ECONNRESET).
 */
function upload(headers: Record<string, string>): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.request(`${stack.ingestUrl}/v1/tables/tm_entries/uploads`, {
      method: 'POST',
      agent: false,
      headers: { ...headers, 'Content-Length': String(128 * 65536) },
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    const chunk = Buffer.alloc(65536, '1\tsource text\ttarget text\n');
    let sent = 0;
    const pump = () => {
      if (req.destroyed) return;
      if (sent++ === 128) return void req.end();
      req.write(chunk, () => setTimeout(pump, 2));
    };
    pump();
  });
}

it.each([['close'], ['keep-alive']])(
  'a client sending Connection: %s while the body flows reads its early 401 and 415',
  async (connection) => {
    expect(
      await upload({
        Authorization: 'Bearer wrong',
        'Content-Type': 'text/tab-separated-values',
        Connection: connection,
      }),
    ).toBe(401);
    expect(
      await upload({
        Authorization: `Bearer ${stack.token}`,
        'Content-Type': 'image/png',
        Connection: connection,
      }),
    ).toBe(415);
  },
  60_000,
);

/**
 * A client that sends its whole body before it reads (many simple HTTP clients do): headers, a pause in which
 * the worker answers, then the body, then read. Returns the status line it could read, or '' if none.
 */
function sendAllThenRead(headers: Record<string, string>, bodyBytes: number): Promise<string> {
  const { port } = new URL(stack.ingestUrl);
  return new Promise((resolve) => {
    const sock = net.connect(Number(port), '127.0.0.1');
    sock.pause(); // read nothing until the body is sent
    let response = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      sock.on('data', (d) => (response += d.toString('latin1')));
      sock.on('close', () => resolve(response.split('\r\n')[0]));
      sock.on('end', () => sock.destroy());
      sock.resume();
      setTimeout(() => sock.destroy(), 2000);
    };
    sock.on('error', finish);
    const head = Object.entries({ ...headers, 'Content-Length': String(bodyBytes) })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    sock.write(`POST /v1/tables/tm_entries/uploads HTTP/1.1\r\nHost: x\r\n${head}\r\n`);
    setTimeout(() => {
      const body = Buffer.alloc(bodyBytes, '1\tsource text\ttarget text\n');
      sock.write(body, () => finish());
    }, 300);
  });
}

it('a client that asked for Connection: close and sends its body before reading still gets its 401', async () => {
  const status = await sendAllThenRead(
    { Authorization: 'Bearer wrong', 'Content-Type': 'text/tab-separated-values', Connection: 'close' },
    4 * 1024 * 1024,
  );
  expect(status).toBe('HTTP/1.1 401 Unauthorized');
}, 30_000);

// The SDK's certificate pinning against a real TLS server on 127.0.0.1 holding certificates made by the host's
// own TLS script (stacks/host-files.ts tlsCertScript, openssl). The server records every byte it is sent, so
// "nothing was sent" is checked, not assumed. The pinned upload through Caddy and the worker is in
// tests/stacks/host-data-path.test.ts.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { CertificateTrustError, describeTable, UploadRejectedError } from '../../ingest/client';
import { normalizeFingerprint } from '../../config-templates';
import { makeTestCertificate } from '../harness/tls';

let dir: string;
const certs: Record<string, { crt: string; key: string; fingerprint: string }> = {};
let server: tls.Server;
let port: number;
/** What each connection sent after its handshake (the request, if one was written). */
const received: Buffer[] = [];
/** TCP connections accepted (a retry would be a second one). */
let connections = 0;
/** Lets the server's side of a connection the client just dropped reach its events. */
const settle = () => new Promise((r) => setTimeout(r, 100));
/** Which certificate the server presents (clients connect by IP, without SNI, as to a host). */
function serve(name: 'good' | 'other' | 'wrong-address') {
  server.setSecureContext({ cert: certs[name].crt, key: certs[name].key });
}

function makeCert(name: string, ...hosts: string[]) {
  const c = makeTestCertificate(dir, name, hosts);
  certs[name] = { crt: c.pem, key: fs.readFileSync(c.keyFile, 'utf8'), fingerprint: c.fingerprint };
  // The script prints openssl's fingerprint line: the form people paste.
  expect(normalizeFingerprint(c.scriptOutput)).toBe(c.fingerprint);
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-trust-'));
  makeCert('good', '127.0.0.1');
  makeCert('other', '127.0.0.1');
  makeCert('wrong-address', '10.9.9.9');
  server = tls.createServer({
    cert: certs.good.crt,
    key: certs.good.key,
  });
  server.on('secureConnection', (socket) => {
    const parts: Buffer[] = [];
    received.push(Buffer.alloc(0));
    const i = received.length - 1;
    socket.on('data', (d: Buffer) => {
      parts.push(d);
      received[i] = Buffer.concat(parts);
      // Enough of a worker to prove the request arrived: the contract's 404 for an unknown table.
      if (received[i].includes('\r\n\r\n')) {
        const body = JSON.stringify({ error: 'unknown_table', message: 'no table "x"' });
        socket.end(
          `HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
        );
      }
    });
    socket.on('error', () => undefined);
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  received.length = 0;
  connections = 0;
  serve('good');
});

const endpoint = () => `https://127.0.0.1:${port}`;
const describe1 = (opts: Parameters<typeof describeTable>[3]) =>
  describeTable(endpoint(), 'secret-token-123', 'x', { retry: { maxAttempts: 3, baseDelayMs: 1 }, ...opts });

describe('SDK certificate trust (ca / fingerprint)', () => {
  it('sends the request to a server presenting the pinned fingerprint, in any pasted form', async () => {
    for (const fp of [
      certs.good.fingerprint,
      certs.good.fingerprint.replace(/:/g, '').toLowerCase(),
      `sha256 Fingerprint=${certs.good.fingerprint}`,
    ]) {
      await expect(describe1({ fingerprint: fp })).rejects.toBeInstanceOf(UploadRejectedError);
    }
    expect(received).toHaveLength(3);
    for (const r of received) expect(r.toString()).toContain('Authorization: Bearer secret-token-123');
  });

  it('trusts a ca PEM for the address it names', async () => {
    await expect(describe1({ ca: certs.good.crt })).rejects.toMatchObject({
      status: 404,
      code: 'unknown_table',
    });
    expect(received[0].toString()).toMatch(/^GET \/v1\/tables\/x HTTP\/1.1/);
  });

  it('refuses another certificate at once: expected and presented fingerprints, nothing sent, no retry', async () => {
    serve('other');
    const err = await describe1({ fingerprint: certs.good.fingerprint }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CertificateTrustError);
    expect(err).toMatchObject({ expected: certs.good.fingerprint, presented: certs.other.fingerprint });
    expect((err as Error).message).toContain(`expected SHA-256 ${certs.good.fingerprint}`);
    expect((err as Error).message).toContain(`presented ${certs.other.fingerprint}`);
    expect((err as Error).message).not.toContain('secret-token-123');
    await settle();
    expect(connections).toBe(1);
    expect(received.every((r) => r.length === 0)).toBe(true);

    const viaCa = await describe1({ ca: certs.good.crt }).catch((e: unknown) => e);
    expect(viaCa).toMatchObject({
      name: 'CertificateTrustError',
      expected: certs.good.fingerprint,
      presented: certs.other.fingerprint,
    });
    await settle();
    expect(connections).toBe(2);
    expect(received.every((r) => r.length === 0)).toBe(true);
  });

  it('with ca, checks the address too (a certificate for another IP is refused)', async () => {
    serve('wrong-address');
    const err = await describe1({ ca: certs['wrong-address'].crt }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'CertificateTrustError', reason: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    await settle();
    expect([connections, received.every((r) => r.length === 0)]).toEqual([1, true]);
  });

  it('without a pin, a self-signed certificate is refused at once with a hint, not retried', async () => {
    const err = await describe1({}).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'CertificateTrustError', reason: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    expect((err as Error).message).toMatch(/pin it with the ca or fingerprint option/);
    await settle();
    expect([connections, received.every((r) => r.length === 0)]).toEqual([1, true]);
  });

  it('rejects a malformed pin, a pin on http://, and a pin with an agent before connecting', async () => {
    await expect(describe1({ fingerprint: 'AB:CD' })).rejects.toThrow(/64 hex digits/);
    await expect(describe1({ ca: 'not a pem' })).rejects.toThrow(/ca must be a PEM certificate/);
    await expect(
      describeTable(`http://127.0.0.1:${port}`, 't', 'x', { fingerprint: certs.good.fingerprint }),
    ).rejects.toThrow(/needs an https:\/\/ endpoint/);
    await expect(describe1({ fingerprint: certs.good.fingerprint, agent: new http.Agent() })).rejects.toThrow(
      /cannot be combined with agent/,
    );
    // No agent turns checking off either.
    await expect(describe1({ agent: new https.Agent({ rejectUnauthorized: false }) })).rejects.toThrow(
      /rejectUnauthorized: false would send the token to any server/,
    );
    expect(connections).toBe(0);
  });
});

// TLS for the tests, once: certificates made by the host's own TLS script (stacks/host-files.ts tlsCertScript, the
// same openssl call a server runs at first boot; keys are made per run, none is in the repository), and Caddy with
// the host's Caddyfile on loopback ports, as the HTTPS front of a worker.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { caddyAdminNetworks, caddyfile, LOOPBACK_CIDRS, tlsCertScript } from '../../stacks/host-files';
import { freePort } from '../../stacks/local-processes/free-port';

export interface TestCertificate {
  crtFile: string;
  keyFile: string;
  /** The certificate's PEM text. */
  pem: string;
  /** SHA-256 as OpenSSL prints it (what the SDKs pin). */
  fingerprint: string;
  /** The script's own output: openssl's "sha256 Fingerprint=…" line. */
  scriptOutput: string;
}

/** `dir/name/ingest.{crt,key}` for `hosts` (IP addresses or names), made by the host's TLS script. */
export function makeTestCertificate(
  dir: string,
  name: string,
  hosts: string[] = ['127.0.0.1'],
): TestCertificate {
  const script = path.join(dir, 'powerhouse-tls-cert');
  if (!fs.existsSync(script)) fs.writeFileSync(script, tlsCertScript());
  const group = spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim();
  const out = path.join(dir, name);
  const r = spawnSync('bash', [script, out, group, ...hosts], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`the TLS script failed: ${r.stderr}`);
  const crtFile = path.join(out, 'ingest.crt');
  const pem = fs.readFileSync(crtFile, 'utf8');
  return {
    crtFile,
    keyFile: path.join(out, 'ingest.key'),
    pem,
    fingerprint: new X509Certificate(pem).fingerprint256,
    scriptOutput: r.stdout,
  };
}

export const CADDY = ['/usr/bin/caddy', '/usr/local/bin/caddy'].find((p) => fs.existsSync(p));

/** GET /healthz over TLS without checking the certificate: only "is it up". */
function healthz(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path: '/healthz', rejectUnauthorized: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });
}

export interface TestCaddy {
  /** The HTTPS port of each site, in the order given. */
  readonly ports: number[];
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Caddy in front of `upstream` (host:port) with the host's Caddyfile, one site per certificate on its own free
 * port, its admin endpoint moved off the default :2019; resolves once every site answers /healthz.
 */
export async function startTestCaddy(
  dir: string,
  upstream: string,
  sites: readonly Pick<TestCertificate, 'crtFile' | 'keyFile'>[],
): Promise<TestCaddy> {
  if (!CADDY) throw new Error('caddy is not installed');
  const ports = await Promise.all(sites.map(() => freePort()));
  // The admin routes from this host, as a host allows them until its first apply.
  const adminNetworks = path.join(dir, 'admin-networks');
  fs.writeFileSync(adminNetworks, caddyAdminNetworks(LOOPBACK_CIDRS));
  const blocks = sites.map((c, i) =>
    caddyfile({ port: ports[i], cert: c.crtFile, key: c.keyFile, upstream, adminNetworks }),
  );
  // The first site's file whole (global options included), the others from their site block on.
  const config =
    blocks[0].replace(/^\{$/m, `{\n\tadmin 127.0.0.1:${await freePort()}`) +
    blocks
      .slice(1)
      .map((b, i) => '\n' + b.slice(b.indexOf(`:${ports[i + 1]} {`)))
      .join('');
  const file = path.join(dir, 'Caddyfile');
  fs.writeFileSync(file, config);
  const logFile = path.join(dir, 'caddy.log');
  const log = fs.openSync(logFile, 'a');
  const child = spawn(CADDY, ['run', '--config', file, '--adapter', 'caddyfile'], {
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      XDG_DATA_HOME: path.join(dir, 'caddy-data'),
      XDG_CONFIG_HOME: path.join(dir, 'caddy-config'),
    },
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  const until = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`caddy exited: ${fs.readFileSync(logFile, 'utf8')}`);
    const up = await Promise.all(ports.map(healthz)).catch(() => []);
    if (up.length === ports.length && up.every((c) => c === 200)) return { ports, child, stop };
    if (Date.now() > until) {
      await stop();
      throw new Error(`caddy: not ready after 30 s: ${fs.readFileSync(logFile, 'utf8')}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

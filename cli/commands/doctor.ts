// `powerhouse doctor`: checks a desktop's configuration step by step without uploading anything: the endpoint
// URL, TCP, TLS, the pinned certificate (with the SDK's own trustProblem, so doctor and uploads agree), the
// token (GET /v1/whoami), the tables (GET /v1/tables/{name}) and the worker's readiness (GET /readyz). One line
// per check; after the first failure the rest are skipped, since each needs the one before. The token itself
// is never printed (its name is not secret).
import net from 'node:net';
import tls from 'node:tls';
import { Command } from 'commander';
import { EndpointError, EndpointUnreachableError, whoami, type Whoami } from '../../ingest/client/admin';
import { describeTable } from '../../ingest/client/describe-table';
import { UploadRejectedError, UploadUnavailableError } from '../../ingest/client/errors';
import { exchange, TransportError } from '../../ingest/client/http-request';
import { endpointUrl } from '../../ingest/client/send-upload';
import {
  CertificateTrustError,
  resolveTrust,
  trustProblem,
  type ResolvedTrust,
} from '../../ingest/client/tls-trust';
import {
  addEndpointOptions,
  ENDPOINT_ENV,
  ingestToken,
  resolveEndpoint,
  trustOf,
  type Endpoint,
  type EndpointFlags,
} from '../endpoint-options';

export const CHECKS = ['endpoint', 'tcp', 'tls', 'pin', 'token', 'table', 'ready'] as const;
export type CheckName = (typeof CHECKS)[number];

export interface CheckResult {
  check: CheckName;
  status: 'ok' | 'fail' | 'skip';
  detail: string;
  fix?: string;
}

interface DoctorFlags extends EndpointFlags {
  token?: string;
  table?: string;
  json?: boolean;
}

const CONNECT_TIMEOUT_MS = 5_000;
const HTTP_TIMEOUT_MS = 10_000;
const TABLE_FIX_ADMIN = 'ask your admin for a token that may write it (powerhouse token add NAME --tables …)';

/** What one check found; several lines for `table` (one per table). */
type Found = Omit<CheckResult, 'check'>;

interface State {
  endpoint: Endpoint;
  url?: URL;
  host: string;
  port: number;
  trust?: ResolvedTrust;
  trustError?: string;
  socket?: tls.TLSSocket;
  token?: string;
  tokenFrom?: string;
  who?: Whoami;
}

const ok = (detail: string): Found => ({ status: 'ok', detail });
const fail = (detail: string, fix: string): Found => ({ status: 'fail', detail, fix });

/** The URL without a user or password in it (never printed). */
function shown(url: URL): string {
  const u = new URL(url.href);
  u.username = '';
  u.password = '';
  return u.href.replace(/\/$/, '');
}

function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h) || h.endsWith('.localhost');
}

const where = (s: State) => `${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`;

function checkEndpoint(s: State): Found {
  const raw = s.endpoint.url;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail(
      `${JSON.stringify(raw)} (from ${s.endpoint.source}) is not a URL`,
      'give the endpoint as https://HOST (a deployed stack) or http://127.0.0.1:8080 (the local stack)',
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return fail(
      `${JSON.stringify(raw)} (from ${s.endpoint.source}) is ${url.protocol}//, not http:// or https://`,
      'give the endpoint as https://HOST (a deployed stack) or http://127.0.0.1:8080 (the local stack)',
    );
  s.url = url;
  s.host = url.hostname.replace(/^\[|\]$/g, '');
  s.port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  try {
    s.trust = resolveTrust(url, trustOf(s.endpoint));
  } catch (err) {
    s.trustError = (err as Error).message;
  }
  let detail = `${shown(url)} (from ${s.endpoint.source})`;
  if (url.protocol === 'http:' && !isLoopback(url.hostname))
    detail += '; warning: plain HTTP to a non-loopback host: tokens travel unencrypted';
  return ok(detail);
}

function tcpConnect(host: string, port: number): Promise<{ ms: number } | { code: string; message: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const socket = net.connect({ host, port });
    const done = (r: { ms: number } | { code: string; message: string }) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () => done({ code: 'ETIMEDOUT', message: `no answer within ${CONNECT_TIMEOUT_MS} ms` }),
      CONNECT_TIMEOUT_MS,
    );
    socket.once('connect', () => done({ ms: performance.now() - t0 }));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done({ code: err.code ?? 'ERR_NETWORK', message: err.message }),
    );
  });
}

async function checkTcp(s: State): Promise<Found> {
  const r = await tcpConnect(s.host, s.port);
  if ('ms' in r) return ok(`connected to ${where(s)} in ${Math.max(1, Math.round(r.ms))} ms`);
  switch (r.code) {
    case 'ECONNREFUSED':
      return fail(
        `nothing listens on ${where(s)}`,
        'is the stack running (npm start / the server), the right port?',
      );
    case 'ETIMEDOUT':
      return fail(
        `no answer from ${where(s)} within ${CONNECT_TIMEOUT_MS / 1000} s`,
        "the server's firewall allows only client_cidrs on 443 (stacks/README), or the address is wrong",
      );
    case 'ENOTFOUND':
      return fail(
        `the name ${s.host} does not resolve (ENOTFOUND)`,
        "check the host name in the endpoint, or use the server's IP address from its connect info",
      );
    case 'EAI_AGAIN':
      return fail(
        `DNS did not answer for ${s.host} (EAI_AGAIN)`,
        "check this machine's network and DNS, or use the server's IP address from its connect info",
      );
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return fail(
        `no route to ${where(s)} (${r.code})`,
        "check this machine's network connection, or the address is wrong",
      );
    default:
      return fail(
        `cannot connect to ${where(s)} (${r.code}: ${r.message})`,
        'check the endpoint address and this machine’s network',
      );
  }
}

function tlsHandshake(s: State): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    // The options the SDK's TrustingAgent uses, so that `authorized` means here what it means for an upload.
    const socket = tls.connect({
      host: s.host,
      port: s.port,
      servername: net.isIP(s.host) ? undefined : s.host,
      ca: s.trust?.ca,
      ALPNProtocols: ['http/1.1'],
      rejectUnauthorized: false,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      const err = new Error(`no TLS handshake within ${CONNECT_TIMEOUT_MS / 1000} s`);
      reject(Object.assign(err, { code: 'ETIMEDOUT' }));
    }, CONNECT_TIMEOUT_MS);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.on('error', () => undefined);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
  });
}

const day = (d: Date) => d.toISOString().slice(0, 10);

async function checkTls(s: State): Promise<Found> {
  if (s.url!.protocol !== 'https:') return ok('not used (plain HTTP)');
  try {
    s.socket = await tlsHandshake(s);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const reason = e.code === 'ETIMEDOUT' || !e.code ? e.message : e.code;
    return fail(
      `TLS handshake with ${where(s)} failed (${reason})`,
      'is this port serving HTTPS (http:// endpoint?)',
    );
  }
  const cert = s.socket.getPeerCertificate();
  const cn = cert?.subject?.CN;
  const from = new Date(cert?.valid_from ?? NaN);
  const to = new Date(cert?.valid_to ?? NaN);
  const now = Date.now();
  const head = `${s.socket.getProtocol() ?? 'TLS'}, ALPN ${s.socket.alpnProtocol || 'none'}, certificate CN=${cn ?? '(none)'}`;
  if (Number.isNaN(to.getTime())) return ok(`${head}, no validity dates`);
  if (to.getTime() < now)
    return fail(
      `${head} expired on ${day(to)} (valid ${day(from)} to ${day(to)}, today is ${day(new Date(now))})`,
      "the server's certificate must be renewed (ops); then pin the new one from its connect info",
    );
  if (from.getTime() > now)
    return fail(
      `${head} is not valid before ${day(from)} (today is ${day(new Date(now))})`,
      "check this machine's clock, or the server's certificate (ops)",
    );
  const days = Math.floor((to.getTime() - now) / 86_400_000);
  return ok(`${head}, valid until ${day(to)} (${days} days)`);
}

const PIN_SOURCE_FIX = "take it from the stack's connect_info output / powerhouse connect-info";

function checkPin(s: State): Found {
  const pinGiven = s.endpoint.ca !== undefined || s.endpoint.fingerprint !== undefined;
  if (s.url!.protocol !== 'https:') {
    if (pinGiven)
      return fail(
        'a pinned certificate (--fingerprint / --ca) needs an https:// endpoint, this one is http://',
        "use the https:// endpoint from the stack's connect info, or drop the pin for a local http:// stack",
      );
    return ok('not applicable (plain HTTP)');
  }
  if (s.trustError) return fail(s.trustError, `pass the certificate or its fingerprint: ${PIN_SOURCE_FIX}`);
  const problem = trustProblem(s.socket!, s.trust);
  if (!problem) {
    if (s.trust?.fingerprint) return ok(`the certificate matches the pinned SHA-256 ${s.trust.fingerprint}`);
    if (s.trust?.ca)
      return ok(`the certificate is verified by the pinned --ca (SHA-256 ${s.trust.caFingerprint})`);
    return ok("no pin given; the certificate is trusted by this system's CAs");
  }
  return pinFailure(problem, s.trust);
}

function pinFailure(problem: CertificateTrustError, trust: ResolvedTrust | undefined): Found {
  if (!trust)
    return fail(
      `no pinned certificate (the server's certificate is not trusted here: ${problem.reason ?? 'unknown'})`,
      "pass --fingerprint or --ca (from the stack's connect_info output / powerhouse connect-info)",
    );
  const rebuilt =
    'if the server was rebuilt, its certificate changed; otherwise something else answers at this address';
  if (trust.fingerprint)
    return fail(
      `certificate pin mismatch: expected SHA-256 ${trust.fingerprint}, the server presented ${problem.presented ?? 'no certificate'}`,
      `${PIN_SOURCE_FIX} (${rebuilt})`,
    );
  const reason = problem.reason ?? 'unknown';
  if (reason === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return fail(
      `the --ca certificate does not name this address (${reason})`,
      'use the address the certificate was made for (the endpoint in the connect info)',
    );
  return fail(
    `the certificate is not the pinned --ca one (${reason}): expected SHA-256 ${trust.caFingerprint}, the server presented ${problem.presented ?? 'no certificate'}`,
    `${PIN_SOURCE_FIX} (${rebuilt})`,
  );
}

const list = (names: readonly string[]) => (names.length ? names.join(', ') : 'no table');

function httpDetail(err: EndpointError): string {
  const b = (err.body && typeof err.body === 'object' ? err.body : {}) as {
    error?: unknown;
    message?: unknown;
  };
  const parts = [b.error, b.message].filter((v): v is string => typeof v === 'string');
  return `HTTP ${err.status}${parts.length ? ` ${parts.join(': ')}` : ''}`;
}

async function checkToken(s: State, flags: DoctorFlags): Promise<Found> {
  const flagToken = flags.token;
  s.token = ingestToken(flagToken, s.endpoint, process.env, flags);
  if (!s.token) return fail('no token', `--token, $${ENDPOINT_ENV.token} or a connect-info file with one`);
  // Where it came from, in ingestToken's order.
  s.tokenFrom = flagToken
    ? '--token'
    : flags.connectInfo && s.token === s.endpoint.token
      ? s.endpoint.source
      : process.env[ENDPOINT_ENV.token]
        ? `$${ENDPOINT_ENV.token}`
        : s.endpoint.source;
  const refusedFix = `ask your admin for a token (powerhouse token add NAME) or check ${ENDPOINT_ENV.token}`;
  try {
    s.who = await whoami(s.url!.href, s.token, { ...trustOf(s.endpoint), timeoutMs: HTTP_TIMEOUT_MS });
  } catch (err) {
    if (err instanceof EndpointError) {
      if (err.status === 401) return fail(`token refused (401; the token from ${s.tokenFrom})`, refusedFix);
      if (err.status === 404)
        return fail(
          `the endpoint has no GET /v1/whoami (${httpDetail(err)}): an older worker, or not a powerhouse endpoint`,
          'update the worker (ops), or check the endpoint address',
        );
      return fail(`GET /v1/whoami answered ${httpDetail(err)}`, 'the server side (ops)');
    }
    return requestFailure('GET /v1/whoami', err);
  }
  return ok(`token "${s.who.token}" may write ${list(s.who.tables)} (from ${s.tokenFrom})`);
}

/** A request that did not get an HTTP answer. */
function requestFailure(what: string, err: unknown): Found {
  if (err instanceof CertificateTrustError) return fail(`${what}: ${err.message}`, PIN_SOURCE_FIX);
  if (err instanceof EndpointUnreachableError || err instanceof TransportError)
    return fail(
      `${what}: no answer (${err.code}: ${err.message})`,
      'the server dropped the connection: rerun doctor; if it persists, the server side (ops)',
    );
  if (err instanceof UploadUnavailableError)
    return fail(`${what}: unavailable (${err.last})`, 'the server side (ops); try again later');
  if (err instanceof TypeError) return fail(`${what}: ${err.message}`, 'check the token and endpoint');
  throw err;
}

async function checkTables(s: State, flagTable: string | undefined): Promise<Found[]> {
  const who = s.who!;
  const names =
    flagTable !== undefined ? [flagTable] : who.tables.length ? who.tables : (s.endpoint.tables ?? []);
  if (names.length === 0)
    return [
      fail(
        `token "${who.token}" may write no table of this endpoint`,
        'ask your admin for a token that may write your tables (powerhouse token add NAME)',
      ),
    ];
  const out: Found[] = [];
  for (const name of names) {
    try {
      const schema = await describeTable(s.url!.href, s.token!, name, {
        ...trustOf(s.endpoint),
        retry: { maxAttempts: 1 },
        timeoutMs: HTTP_TIMEOUT_MS,
      });
      const cols = schema.columns.map((c) => c.name);
      out.push(
        ok(`${name}: ${cols.length} writable column${cols.length === 1 ? '' : 's'} (${cols.join(', ')})`),
      );
    } catch (err) {
      if (err instanceof UploadRejectedError) {
        if (err.status === 404)
          out.push(
            fail(
              `${name}: not in the endpoint's allowlist (tables: ${list(who.tables)})`,
              "check the table name (--table); a new table is added to the worker's tables by your admin",
            ),
          );
        else if (err.status === 403)
          out.push(
            fail(
              `${name}: token "${who.token}" may not write it (it may write: ${list(who.tables)})`,
              TABLE_FIX_ADMIN,
            ),
          );
        else if (err.status === 401)
          out.push(fail(`${name}: token refused (401)`, 'the token was revoked just now? ask your admin'));
        else out.push(fail(`${name}: ${err.message}`, 'the server side (ops)'));
      } else out.push(requestFailure(`${name}`, err));
    }
  }
  return out;
}

interface ReadyBody {
  status?: unknown;
  message?: unknown;
  latencyMs?: unknown;
  backup?: { status?: unknown; message?: unknown };
}

async function checkReady(s: State): Promise<Found> {
  let reply;
  try {
    reply = await exchange(endpointUrl(s.url!.href, 'readyz'), {
      method: 'GET',
      headers: { Accept: 'application/json' },
      timeoutMs: HTTP_TIMEOUT_MS,
      trust: s.trust,
    }).reply;
  } catch (err) {
    return requestFailure('GET /readyz', err);
  }
  const body = (reply.body && typeof reply.body === 'object' ? reply.body : {}) as ReadyBody;
  const backup = body.backup && typeof body.backup.status === 'string' ? body.backup : undefined;
  const backupNote = backup
    ? `; backups: ${String(backup.status)}${
        (backup.status === 'failing' || backup.status === 'stale') && typeof backup.message === 'string'
          ? ` (${backup.message})`
          : ''
      }`
    : '';
  if (reply.status === 200) {
    const latency = typeof body.latencyMs === 'number' ? ` (database answered in ${body.latencyMs} ms)` : '';
    return ok(`ready${latency}${backupNote}`);
  }
  const message =
    typeof body.message === 'string'
      ? body.message
      : typeof reply.body === 'string'
        ? reply.body.slice(0, 200)
        : '';
  if (reply.status === 503)
    return fail(
      `not ready (503): ${message || 'no reason given'}${backupNote}`,
      backup?.status === 'refusing'
        ? 'the server side (ops): the WAL archive is behind and uploads are paused until the backup repository takes WAL again'
        : 'the server side (ops): the worker cannot reach its database or PgBouncer',
    );
  return fail(
    `GET /readyz answered HTTP ${reply.status}${message ? `: ${message}` : ''}`,
    'check the endpoint address: this may not be a powerhouse ingest endpoint',
  );
}

/** Runs the checks in order; `onResult` sees each line as it is decided. */
export async function runDoctor(
  flags: DoctorFlags,
  onResult: (r: CheckResult) => void = () => undefined,
): Promise<CheckResult[]> {
  // A bad flag (unreadable --ca, malformed --fingerprint, bad connect-info file) is a UsageError: exit 2.
  const endpoint = resolveEndpoint(flags);
  const s: State = { endpoint, host: '', port: 0 };
  const results: CheckResult[] = [];
  const steps: Record<CheckName, () => Promise<Found | Found[]> | Found | Found[]> = {
    endpoint: () => checkEndpoint(s),
    tcp: () => checkTcp(s),
    tls: () => checkTls(s),
    pin: () => checkPin(s),
    token: () => checkToken(s, flags),
    table: () => checkTables(s, flags.table),
    ready: () => checkReady(s),
  };
  let failed: CheckName | undefined;
  // No message names the token; this holds it whatever a server echoes (not for a short typo-sized value,
  // which would blank ordinary words).
  const redact = (text: string) => (s.token && s.token.length >= 8 ? text.split(s.token).join('…') : text);
  const add = (r: CheckResult) => {
    const clean: CheckResult = { ...r, detail: redact(r.detail), ...(r.fix ? { fix: redact(r.fix) } : {}) };
    results.push(clean);
    onResult(clean);
  };
  try {
    for (const check of CHECKS) {
      if (failed) {
        add({ check, status: 'skip', detail: `(needs ${failed})` });
        continue;
      }
      const found = await steps[check]();
      for (const f of Array.isArray(found) ? found : [found]) {
        add({ check, ...f });
        if (f.status === 'fail') failed ??= check;
      }
    }
  } finally {
    s.socket?.destroy();
  }
  return results;
}

export function formatResult(r: CheckResult): string {
  const status = { ok: 'ok', fail: 'FAIL', skip: 'skip' }[r.status].padEnd(6);
  const check = r.check.padEnd(Math.max(...CHECKS.map((c) => c.length)) + 2);
  return `${status}${check}${r.detail}${r.fix ? ` — fix: ${r.fix}` : ''}`;
}

const HELP = `
Checks, in order (one line each; after a FAIL the rest say skip):
  endpoint  the URL (flags, $${ENDPOINT_ENV.endpoint}, the connect info, or the local stack)
  tcp       a TCP connection to the endpoint's host and port, within 5 s
  tls       the TLS handshake, the certificate's name and dates (https only)
  pin       the certificate is the pinned one (--fingerprint / --ca), as uploads check it
  token     GET /v1/whoami: the token's name and the tables it may write (the token is never printed)
  table     GET /v1/tables/NAME for --table, or every table the token may write
  ready     GET /readyz: the worker reaches its database (and its backup state)

Exit codes: 0 every check passed · 1 a check failed · 2 usage (bad flag, unreadable --ca or connect info).
Examples:
  powerhouse doctor                                       (the local stack of npm start)
  powerhouse doctor --connect-info anna.json              (written by token add --out)
  POWERHOUSE_INGEST_TOKEN=… powerhouse doctor --endpoint https://203.0.113.10 --fingerprint AB:CD:…`;

export function doctorCommand(): Command {
  const cmd = new Command('doctor')
    .description('check the endpoint, certificate, token and tables a desktop uses, without uploading')
    .option('--token <token>', `ingest token (default: $${ENDPOINT_ENV.token}, or the connect info)`)
    .option('--table <name>', 'check this table (default: every table the token may write)')
    .option('--json', 'print the results as a JSON array of {check, status, detail, fix?}')
    .addHelpText('after', HELP);
  addEndpointOptions(cmd);
  cmd.action(async (o: DoctorFlags) => {
    const print = (r: CheckResult) => void process.stdout.write(`${formatResult(r)}\n`);
    const results = await runDoctor(o, o.json ? undefined : print);
    if (o.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    process.exitCode = results.some((r) => r.status === 'fail') ? 1 : 0;
  });
  return cmd;
}

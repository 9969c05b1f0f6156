// Spawning server processes (PostgreSQL, PgBouncer) that never outlive this Node process, with their
// stdout/stderr appended to a log file whose tail goes into start-up errors.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

import { spawnIdentity, type ServiceUser } from './os-user';

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be spawned at all (ENOENT, EACCES). */
  error?: Error;
}

export interface SupervisedChild {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<ChildExit>;
  /** Undefined while running. */
  exit(): ChildExit | undefined;
  /** Sends a signal to the process; false when it had already exited. */
  signal(sig: NodeJS.Signals): boolean;
  /** SIGKILL to the whole process group (the server and every worker it forked). */
  killGroup(): void;
  /**
   * SIGKILL to the process, its group and every descendant (PostgreSQL backends call setsid(), so they are
   * not in the server's group), then wait until none of them is alive (at most `timeoutMs`).
   */
  killGroupAndWait(timeoutMs?: number): Promise<void>;
}

export interface SpawnOptions {
  user: ServiceUser;
  cwd: string;
  logFile: string;
  /** Sent when this Node process exits or is interrupted while the child still runs. */
  shutdownSignal: NodeJS.Signals;
  env?: NodeJS.ProcessEnv;
}

// Children alive right now, with the signal that shuts each down on its own (no waiting on us needed).
const live = new Map<number, { sup: SupervisedChild; shutdownSignal: NodeJS.Signals }>();
let handlersInstalled = false;
const INTERRUPT_GRACE_MS = 10_000;

function onProcessExit(): void {
  // Synchronous context: only signals can be sent. The servers finish their own shutdown afterwards.
  for (const { sup, shutdownSignal } of live.values()) sup.signal(shutdownSignal);
}

function onInterrupt(sig: NodeJS.Signals): void {
  // Another listener means the application owns shutdown (it should stop the servers itself; the
  // 'exit' hook remains the backstop). Alone, we replace Node's default "exit on signal" behaviour:
  // shut the children down, then re-raise the signal so the exit status stays the conventional one.
  if (process.listeners(sig).length > 1) return;
  const children = [...live.values()];
  for (const { sup, shutdownSignal } of children) sup.signal(shutdownSignal);
  const timer = setTimeout(() => children.forEach(({ sup }) => sup.killGroup()), INTERRUPT_GRACE_MS);
  void Promise.all(children.map(({ sup }) => sup.exited)).then(() => {
    clearTimeout(timer);
    process.removeListener('SIGINT', onInterrupt);
    process.removeListener('SIGTERM', onInterrupt);
    process.kill(process.pid, sig);
  });
}

function installHandlersOnce(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', onProcessExit);
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onInterrupt);
}

/** Pids of server processes started by this Node process that are still running. */
export function liveChildPids(): number[] {
  return [...live.keys()];
}

export function spawnSupervised(command: string, args: string[], opts: SpawnOptions): SupervisedChild {
  installHandlersOnce();
  const fd = fs.openSync(opts.logFile, 'a', 0o640);
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', fd, fd],
      // Own process group: a terminal's Ctrl-C does not reach the server directly (we forward the
      // right shutdown signal), and kill() can take down the server with all its workers.
      detached: true,
      ...spawnIdentity(opts.user),
    });
  } finally {
    fs.closeSync(fd);
  }
  let result: ChildExit | undefined;
  const exited = new Promise<ChildExit>((resolve) => {
    child.once('error', (error) => {
      // 'error' without a pid means spawn failed; with a pid it is a failed kill(), not an exit.
      if (child.pid === undefined) {
        result = { code: null, signal: null, error };
        resolve(result);
      }
    });
    child.once('exit', (code, signal) => {
      result = { code, signal };
      resolve(result);
    });
  });
  const pid = child.pid ?? -1;
  const sup: SupervisedChild = {
    pid,
    child,
    exited,
    exit: () => result,
    signal(sig) {
      if (result || pid < 0) return false;
      try {
        process.kill(pid, sig);
        return true;
      } catch {
        return false;
      }
    },
    killGroup() {
      if (pid < 0) return;
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // group already gone
      }
    },
    async killGroupAndWait(timeoutMs = 10_000) {
      // A backend left alive holds the old shared memory, and the next start fails with "pre-existing
      // shared memory block is still in use": kill the whole tree, not just the server.
      const tree = pid > 0 && !result ? killTree(pid) : [];
      sup.killGroup();
      await exited;
      await waitTreeGone(pid, tree, timeoutMs, `server ${pid}`);
    },
  };
  if (pid > 0) {
    live.set(pid, { sup, shutdownSignal: opts.shutdownSignal });
    void exited.then(() => live.delete(pid));
  }
  return sup;
}

/**
 * Freezes `pid` (SIGSTOP: it forks no one new), notes its descendants while they are still its children
 * (they are reparented the moment it dies), then SIGKILLs its process group (when it leads one) and each
 * of them. Returns the descendants. Works for any process we may signal, not only our own children.
 */
export function killTree(pid: number): number[] {
  const signal = (target: number, sig: NodeJS.Signals) => {
    try {
      process.kill(target, sig);
    } catch {
      // already gone
    }
  };
  signal(pid, 'SIGSTOP');
  const tree = descendants(pid);
  if (Number(procStat(pid)?.[2]) === pid) signal(-pid, 'SIGKILL');
  signal(pid, 'SIGKILL');
  for (const d of tree) signal(d, 'SIGKILL');
  return tree;
}

/** Waits until nothing in process group `pgid` and none of `pids` is alive; throws after `timeoutMs`. */
export async function waitTreeGone(pgid: number, pids: number[], timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  const survivors = () => [...(pgid > 0 ? processGroupMembers(pgid) : []), ...pids.filter(isLive)];
  while (survivors().length > 0) {
    if (Date.now() > deadline)
      throw new Error(`processes ${survivors().join(', ')} of ${what} survived SIGKILL`);
    await sleep(10);
  }
}

/**
 * Live (non-zombie) processes in process group `pgid`, from /proc. A SIGKILLed server's workers are
 * reparented and reaped by someone else, so their exit is observed here rather than via 'exit' events.
 */
export function processGroupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // Fields after the parenthesised command name: state ppid pgrp ...
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(rest[2]) === pgid && rest[0] !== 'Z' && rest[0] !== 'X') members.push(Number(entry));
  }
  return members;
}

/** /proc/<pid>/stat fields after the command name: state, ppid, pgrp, …; null when the process is gone. */
export function procStat(pid: number | string): string[] | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** Running or sleeping (not gone, not a zombie waiting to be reaped). */
export function isLive(pid: number): boolean {
  const rest = procStat(pid);
  return rest !== null && rest[0] !== 'Z' && rest[0] !== 'X';
}

/** Live descendants of `root` (children, their children, …), from /proc. */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const rest = procStat(entry);
    if (!rest || rest[0] === 'Z' || rest[0] === 'X') continue;
    const ppid = Number(rest[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length > 0) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return out;
}

/** Waits for exit; false when `timeoutMs` passed first. */
export async function waitForExit(sup: SupervisedChild, timeoutMs: number): Promise<boolean> {
  if (sup.exit()) return true;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const done = await Promise.race([sup.exited.then(() => true as const), timedOut]);
  clearTimeout(timer);
  return done;
}

/**
 * The last `lines` lines of a log file written after byte offset `from` (reads at most the final
 * 16 KiB), or a note when the file is unreadable.
 */
export function logTail(file: string, opts: { lines?: number; from?: number } = {}): string {
  const { lines = 30, from = 0 } = opts;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const len = Math.max(0, Math.min(size - from, 16 * 1024));
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      const text = buf.toString('utf8').trimEnd();
      return text.split('\n').slice(-lines).join('\n') || '(nothing logged)';
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    return `(could not read ${file}: ${(err as Error).message})`;
  }
}

export function describeExit(exit: ChildExit): string {
  if (exit.error) return `could not be started (${exit.error.message})`;
  return exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

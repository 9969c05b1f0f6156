// The OS user that PostgreSQL and PgBouncer run as. Both refuse to run as root, so when we are root we
// create (or reuse) an unprivileged system user and spawn the servers with its uid/gid.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ActionableError } from './actionable-error';
export interface ServiceUser {
  uid: number;
  gid: number;
  name: string;
}

export const SERVICE_USER_NAME = 'powerhouse';

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** The passwd entry of `name`, or null when there is none. */
export function lookupUser(name: string): ServiceUser | null {
  let line: string;
  try {
    line = execFileSync('getent', ['passwd', name], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return null; // getent exits 2 when the user does not exist
  }
  const fields = line.trim().split(':');
  if (fields.length < 4) return null;
  return { name, uid: Number(fields[2]), gid: Number(fields[3]) };
}

/**
 * The user the servers run as. As root: the system user `name` (created if missing, without a home and
 * with a nologin shell). Otherwise: the current user.
 */
export function ensureServiceUser(name: string = SERVICE_USER_NAME): ServiceUser {
  if (!isRoot()) {
    const me = os.userInfo();
    return { uid: me.uid, gid: me.gid, name: me.username };
  }
  const existing = lookupUser(name);
  if (existing) return existing;
  try {
    execFileSync(
      'useradd',
      ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', name],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
  } catch (err) {
    // Another process (a parallel jest worker) may have created it between our lookup and useradd.
    const raced = lookupUser(name);
    if (raced) return raced;
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new ActionableError(
      `could not create system user '${name}' with useradd: ${stderr || String(err)}`,
    );
  }
  const created = lookupUser(name);
  if (!created) throw new Error(`useradd reported success but user '${name}' is not in the passwd database`);
  return created;
}

/** Options for child_process.spawn: switch user only when we are root (a non-root setuid would fail). */
export function spawnIdentity(user: ServiceUser): { uid?: number; gid?: number } {
  return isRoot() ? { uid: user.uid, gid: user.gid } : {};
}

// Permission bits that apply to `user` for a file with this stat (supplementary groups are not
// considered: a false "denied" is then possible, but never a false "allowed" for owner/other).
function permBits(st: fs.Stats, user: ServiceUser): number {
  if (user.uid === 0) return 7;
  if (st.uid === user.uid) return (st.mode >> 6) & 7;
  if (st.gid === user.gid) return (st.mode >> 3) & 7;
  return st.mode & 7;
}

/**
 * Throws a clear error when `user` cannot reach `target` (search permission on every parent directory)
 * or lacks `need` on it ('r', 'x' or 'rx'). Used for the PostgreSQL binaries in node_modules and for
 * data directories, which root may have created inside a private directory.
 */
export function assertAccessibleBy(user: ServiceUser, target: string, need: 'r' | 'x' | 'rx'): void {
  const abs = path.resolve(target);
  const parts = abs.split(path.sep).filter(Boolean);
  const dirs = parts.slice(0, -1).map((_, i) => path.sep + parts.slice(0, i + 1).join(path.sep));
  for (const dir of [path.sep, ...dirs]) {
    const st = fs.statSync(dir);
    if ((permBits(st, user) & 1) === 0) {
      throw new ActionableError(
        `${abs} is not reachable by user '${user.name}' (uid ${user.uid}): directory ${dir} has mode ` +
          `${(st.mode & 0o777).toString(8)} owned by uid ${st.uid}; allow traversal (chmod o+x ${dir}) ` +
          `or put the files somewhere that user can reach`,
      );
    }
  }
  const st = fs.statSync(abs);
  const bits = permBits(st, user);
  const missing = [
    need.includes('r') && (bits & 4) === 0 ? 'read' : '',
    need.includes('x') && (bits & 1) === 0 ? 'execute' : '',
  ]
    .filter(Boolean)
    .join(' and ');
  if (missing) {
    throw new ActionableError(
      `user '${user.name}' (uid ${user.uid}) lacks ${missing} permission on ${abs} ` +
        `(mode ${(st.mode & 0o777).toString(8)}, owner uid ${st.uid})`,
    );
  }
}

/** Creates `dir` (and parents) if needed and hands it to `user` with the given mode. */
export function ensureOwnedDir(dir: string, user: ServiceUser, mode: number): void {
  fs.mkdirSync(dir, { recursive: true });
  if (isRoot()) fs.chownSync(dir, user.uid, user.gid);
  fs.chmodSync(dir, mode);
  assertAccessibleBy(user, dir, 'rx');
}

/** Writes a file owned by `user` (when root) with `mode`, replacing any previous content and mode. */
export function writeOwnedFile(file: string, content: string, user: ServiceUser, mode: number): void {
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode); // writeFileSync's mode only applies when the file is created
  if (isRoot()) fs.chownSync(file, user.uid, user.gid);
}

/** Runs `command` as `user` (when root) and collects its stdout and stderr together. */
export function runCaptured(
  command: string,
  args: string[],
  user: ServiceUser,
  cwd: string,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...spawnIdentity(user),
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

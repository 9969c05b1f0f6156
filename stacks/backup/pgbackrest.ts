// pgBackRest as the backup commands run it: as the cluster's OS user, with the deployment's config directory,
// its JSON output parsed into typed values. No shell: arguments go to the binary as they are.
import { spawn } from 'node:child_process';
import type { BackupSet } from '../../config-templates/backup-status';
import { ActionableError } from '../local-processes/actionable-error';
import os from 'node:os';
import { isRoot, lookupUser, spawnIdentity, type ServiceUser } from '../local-processes/os-user';
import type { BackupProfile } from './profile';

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Each line of pgBackRest's log on stderr, as it comes. */
  readonly onStderrLine?: (line: string) => void;
  /** The log level on stderr (default warn); stdout carries only the command's own output (JSON of info). */
  readonly logLevel?: 'warn' | 'info' | 'detail';
}

/** The profile's OS user when root; otherwise whoever runs the command (it cannot switch). */
export function backupUser(profile: BackupProfile): ServiceUser {
  if (!isRoot()) {
    const me = os.userInfo();
    return { uid: me.uid, gid: me.gid, name: me.username };
  }
  const found = lookupUser(profile.osUser);
  if (!found)
    throw new ActionableError(
      `OS user '${profile.osUser}' (the backup profile's osUser) does not exist on this machine`,
    );
  return found;
}

/** `pgbackrest --config-path=… --stanza=… COMMAND ARGS…` as the profile's OS user. */
export function runPgBackRest(
  profile: BackupProfile,
  command: string,
  args: readonly string[] = [],
  opts: RunOptions = {},
): Promise<RunResult> {
  const argv = [
    `--config-path=${profile.pgbackrest.configPath}`,
    `--stanza=${profile.stanza}`,
    '--log-level-console=off',
    `--log-level-stderr=${opts.logLevel ?? 'warn'}`,
    ...args,
    command,
  ];
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (profile.passFile) env.PGPASSFILE = profile.passFile;
  return new Promise((resolve, reject) => {
    const child = spawn(profile.pgbackrest.bin, argv, {
      ...spawnIdentity(backupUser(profile)),
      env,
      // A directory every user may enter: pgBackRest as postgres must not inherit an unreadable cwd.
      cwd: '/',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (!opts.onStderrLine) return;
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) opts.onStderrLine(l);
    });
    child.on('error', (err) => {
      const code = (err as NodeJS.ErrnoException).code;
      reject(
        code === 'ENOENT'
          ? new ActionableError(
              `pgBackRest not found at '${profile.pgbackrest.bin}': install it (apt install pgbackrest from apt.postgresql.org) or fix pgbackrest.bin in the backup profile`,
            )
          : err,
      );
    });
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/**
 * pgBackRest's error out of its console log: `ERROR: [056]: unable to find primary cluster` and the HINT lines
 * after it, without timestamps and process ids.
 */
export function pgBackRestError(stderr: string): string {
  const lines = stderr.split('\n');
  const at = lines.findIndex((l) => /\bERROR: \[\d+\]/.test(l));
  if (at < 0)
    return (
      lines
        .filter((l) => l.trim())
        .slice(-3)
        .join(' ')
        .trim() || 'no output'
    );
  const first = lines[at].replace(/^.*?\bERROR: /, '');
  const more = lines
    .slice(at + 1)
    .filter((l) => /^\s{8,}\S/.test(l))
    .map((l) => l.trim());
  return [first, ...more].join(' ');
}

/** Fails with pgBackRest's own error when the command did not succeed. */
export function assertSucceeded(r: RunResult, what: string): void {
  if (r.code === 0) return;
  const how = r.signal ? `was killed by ${r.signal}` : `failed (exit ${r.code})`;
  throw new ActionableError(`${what} ${how}: ${pgBackRestError(r.stderr)}`);
}

/** `pgbackrest info --output=json` for one stanza, as typed values. */
export interface StanzaInfo {
  /** pgBackRest's stanza status: 0 ok, 1 missing stanza path, 2 no valid backups, 3 missing stanza data, 99 other. */
  readonly code: number;
  readonly message: string;
  /** The repository's own status (its error message, e.g. permission denied or a timeout). */
  readonly repoMessage: string | null;
  /** Complete backups, oldest first: pgBackRest never lists one that did not finish. */
  readonly backups: readonly BackupSet[];
  readonly walMin: string | null;
  readonly walMax: string | null;
  readonly backupRunning: boolean;
  /** Bytes done and to do of the running backup, when pgBackRest reports them. */
  readonly progress: { readonly done: number; readonly total: number } | null;
}

interface RawBackup {
  label: string;
  type: 'full' | 'diff' | 'incr';
  timestamp: { start: number; stop: number };
  info: { size: number; delta: number; repository: { size?: number; delta: number } };
  archive: { start: string | null; stop: string | null };
  error?: boolean;
}
interface RawStanza {
  name: string;
  status: {
    code: number;
    message: string;
    lock?: { backup?: { held: boolean; 'size-cplt'?: number; size?: number } };
  };
  repo?: { status: { code: number; message: string } }[];
  backup?: RawBackup[];
  archive?: { min: string | null; max: string | null }[];
}

const iso = (epochSeconds: number) => new Date(epochSeconds * 1000).toISOString();

export function parseInfo(json: string, stanza: string): StanzaInfo {
  let all: RawStanza[];
  try {
    all = JSON.parse(json) as RawStanza[];
  } catch {
    throw new Error(`pgbackrest info printed no JSON: ${json.slice(0, 200)}`);
  }
  const s = all.find((x) => x.name === stanza);
  if (!s) throw new Error(`pgbackrest info has no stanza ${stanza}`);
  const repo = s.repo?.[0]?.status;
  const archives = s.archive ?? [];
  const lock = s.status.lock?.backup;
  return {
    code: s.status.code,
    message: s.status.message,
    repoMessage: repo && repo.code !== 0 ? repo.message : null,
    backups: (s.backup ?? [])
      .filter((b) => !b.error)
      .map((b) => ({
        label: b.label,
        type: b.type,
        startedAt: iso(b.timestamp.start),
        stoppedAt: iso(b.timestamp.stop),
        sizeBytes: b.info.size,
        repoSizeBytes: b.info.repository.delta,
        walStart: b.archive.start,
        walStop: b.archive.stop,
      })),
    walMin: archives.length > 0 ? archives[0].min : null,
    walMax: archives.length > 0 ? archives[archives.length - 1].max : null,
    backupRunning: lock?.held ?? false,
    progress:
      lock?.held && lock.size !== undefined && lock['size-cplt'] !== undefined
        ? { done: lock['size-cplt'], total: lock.size }
        : null,
  };
}

export async function stanzaInfo(profile: BackupProfile): Promise<StanzaInfo> {
  const r = await runPgBackRest(profile, 'info', ['--output=json']);
  assertSucceeded(r, 'pgbackrest info');
  return parseInfo(r.stdout, profile.stanza);
}

/** Why the repository cannot be used right now, or null when it can (code 2: reachable, no backup yet). */
export function repositoryProblem(info: StanzaInfo): string | null {
  if (info.code === 0 || info.code === 2) return null;
  if (info.code === 1)
    return 'the repository has no stanza yet (run `pgbackrest stanza-create`, which the stack does on apply)';
  return info.repoMessage ?? info.message;
}

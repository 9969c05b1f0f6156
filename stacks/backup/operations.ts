// The backup commands' work, apart from their printing: take a backup (reporting progress), read the status
// the worker shows, verify the repository. cli/commands/backup.ts prints what these return.
import fs from 'node:fs';
import path from 'node:path';
import { describeRepository } from '../../config-templates/backup';
import {
  BACKUP_STATUS_VERSION,
  type BackupSet,
  type BackupStatus,
} from '../../config-templates/backup-status';
import {
  assertSucceeded,
  pgBackRestError,
  repositoryProblem,
  runPgBackRest,
  stanzaInfo,
  type StanzaInfo,
} from './pgbackrest';
import type { BackupProfile } from './profile';

export type BackupType = 'full' | 'diff' | 'incr';

export interface BackupProgress {
  /** 0..1 when pgBackRest reports it. */
  readonly fraction: number | null;
  readonly doneBytes: number | null;
  readonly totalBytes: number | null;
}

/**
 * The stanza, created when the repository has none (pgBackRest code 1). Only then: stanza-create takes the
 * archive lock, which the asynchronous archive-push holds while it pushes, so running it on every start races.
 */
export async function ensureStanza(profile: BackupProfile, known?: StanzaInfo): Promise<StanzaInfo> {
  const info = known ?? (await stanzaInfo(profile));
  if (info.code !== 1) return info;
  assertSucceeded(await runPgBackRest(profile, 'stanza-create'), 'pgbackrest stanza-create');
  return stanzaInfo(profile);
}

/**
 * One backup now. A missing stanza is created first (idempotent). Progress comes from pgBackRest's lock
 * (`info` while the backup runs). Returns the set pgBackRest lists afterwards: only a finished backup is listed.
 */
export async function takeBackup(
  profile: BackupProfile,
  type: BackupType,
  opts: {
    onProgress?: (p: BackupProgress) => void;
    pollMs?: number;
    /** The repository as the caller just read it (saves reading it again). */
    known?: StanzaInfo;
  } = {},
): Promise<{ set: BackupSet; seconds: number }> {
  const { onProgress = () => {}, pollMs = 1000 } = opts;
  const before = await ensureStanza(profile, opts.known);
  const problem = repositoryProblem(before);
  if (problem) throw new Error(`the backup repository cannot be used: ${problem}`);
  const listed = new Set(before.backups.map((b) => b.label));
  const t0 = Date.now();
  const running = runPgBackRest(profile, 'backup', [`--type=${type}`]);
  let finished = false;
  void running.finally(() => (finished = true));
  while (!finished) {
    await new Promise((r) => setTimeout(r, pollMs));
    if (finished) break;
    try {
      const p = (await stanzaInfo(profile)).progress;
      if (p)
        onProgress({
          fraction: p.total > 0 ? p.done / p.total : null,
          doneBytes: p.done,
          totalBytes: p.total,
        });
    } catch {
      // info can fail while the backup holds the repository busy; the next poll tries again.
    }
  }
  const r = await running;
  assertSucceeded(r, `pgbackrest backup --type=${type}`);
  const after = await stanzaInfo(profile);
  const set = after.backups.find((b) => !listed.has(b.label));
  if (!set) throw new Error('pgbackrest backup succeeded but lists no new backup');
  return { set, seconds: (Date.now() - t0) / 1000 };
}

/** The repository's file (every target keeps the repository in conf.d/repository.conf). */
export const repositoryConfFile = (p: BackupProfile) =>
  path.join(p.pgbackrest.configPath, 'conf.d', 'repository.conf');

/** The repository as its file names it (type and location, never a key), or null when there is none. */
export function repositoryName(p: BackupProfile): string | null {
  let text: string;
  try {
    text = fs.readFileSync(repositoryConfFile(p), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return p.repository; // unreadable to this user: the profile's name for it
  }
  const get = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  const location = { path: get('repo1-path') };
  return get('repo1-type') === 's3'
    ? describeRepository({
        type: 's3',
        endpoint: get('repo1-s3-endpoint'),
        bucket: get('repo1-s3-bucket'),
        ...location,
      })
    : describeRepository({ type: 'posix', ...location });
}

/** Hours after which a backup is due where no timer schedules them (the Docker stack's loop). */
export const DUE_AFTER_HOURS = { full: 7 * 24, diff: 24 } as const;

/** The backup due now: a full one weekly (or when there is none), a differential daily; null when none is. */
export function dueBackup(info: StanzaInfo, now: Date = new Date()): BackupType | null {
  const hours = (iso: string) => (now.getTime() - Date.parse(iso)) / 3_600_000;
  const fulls = info.backups.filter((b) => b.type === 'full');
  if (fulls.length === 0 || hours(fulls[fulls.length - 1].stoppedAt) >= DUE_AFTER_HOURS.full) return 'full';
  const newest = info.backups[info.backups.length - 1];
  return hours(newest.stoppedAt) >= DUE_AFTER_HOURS.diff ? 'diff' : null;
}

/** What the worker shows: never throws (an unreadable repository is a status, not a crash). */
export async function collectStatus(profile: BackupProfile, now: Date = new Date()): Promise<BackupStatus> {
  const name = repositoryName(profile);
  const base = {
    version: BACKUP_STATUS_VERSION,
    checkedAt: now.toISOString(),
    stanza: profile.stanza,
    repository: name ?? 'none',
  } as const;
  const none = {
    lastGood: null,
    backupCount: 0,
    walMin: null,
    walMax: null,
    backupRunning: false,
  } as const;
  if (name === null)
    return {
      ...base,
      ...none,
      reachable: false,
      error:
        `no backup repository is configured (${repositoryConfFile(profile)} is missing): WAL is not archived and ` +
        "nothing protects the data beyond this server's disk",
    };
  let info: StanzaInfo;
  try {
    info = await stanzaInfo(profile);
  } catch (err) {
    return { ...base, ...none, reachable: false, error: (err as Error).message };
  }
  const problem = repositoryProblem(info);
  return {
    ...base,
    reachable: problem === null,
    error: problem,
    lastGood: info.backups.at(-1) ?? null,
    backupCount: info.backups.length,
    walMin: info.walMin,
    walMax: info.walMax,
    backupRunning: info.backupRunning,
  };
}

/** Atomically (rename), readable by the worker's user. */
export function writeStatusFile(file: string, status: BackupStatus): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(status, null, 2) + '\n', { mode: 0o644 });
  fs.chmodSync(tmp, 0o644);
  fs.renameSync(tmp, file);
}

export interface CheckLine {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/**
 * `powerhouse verify`: the archive works now (pgBackRest `check`: a WAL switch that must reach the repository),
 * and every file in the repository matches its checksum (`verify`).
 */
export async function verifyRepository(profile: BackupProfile): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  const info = await stanzaInfo(profile).catch((err: Error) => err);
  if (info instanceof Error) return [{ name: 'repository', ok: false, detail: info.message }];
  const problem = repositoryProblem(info);
  lines.push({
    name: 'repository',
    ok: problem === null,
    detail:
      problem ??
      `${profile.repository}: ${info.backups.length} backup(s), WAL ${info.walMin ?? '–'} … ${info.walMax ?? '–'}`,
  });
  if (problem) return lines;
  const check = await runPgBackRest(profile, 'check');
  lines.push({
    name: 'archive',
    ok: check.code === 0,
    detail: check.code === 0 ? 'a forced WAL switch reached the repository' : pgBackRestError(check.stderr),
  });
  const verify = await runPgBackRest(profile, 'verify', [], { logLevel: 'info' });
  const summary = verify.stderr
    .split('\n')
    .filter((l) => /(INFO|WARN|ERROR):/.test(l) && /(backup|archive|checksum|invalid|missing)/i.test(l))
    .map((l) => l.replace(/^.*?(INFO|WARN|ERROR): /, '').trim())
    .slice(-3)
    .join('; ');
  lines.push({
    name: 'checksums',
    ok: verify.code === 0 && !/invalid|missing|error/i.test(summary),
    detail:
      verify.code === 0
        ? summary || 'every backup and WAL file matches its checksum'
        : pgBackRestError(verify.stderr),
  });
  if (info.backups.length === 0)
    lines.push({ name: 'backups', ok: false, detail: 'no complete backup yet: run powerhouse backup' });
  return lines;
}

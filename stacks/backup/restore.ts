// `powerhouse restore`: decides whether a restore may run and with which pgBackRest arguments (planRestore,
// pure), then runs it (restore). A restore goes into a new, empty directory, or over the live data directory
// only when PostgreSQL there is stopped and the operator said --in-place. Every refusal happens before
// pgBackRest is started, so a refused restore changes nothing.
import fs from 'node:fs';
import path from 'node:path';
import type { BackupSet } from '../../config-templates/backup-status';
import { ActionableError } from '../local-processes/actionable-error';
import { isLive } from '../local-processes/supervised-child';
import { assertSucceeded, backupUser, runPgBackRest, stanzaInfo, type StanzaInfo } from './pgbackrest';
import { isRoot, runCaptured } from '../local-processes/os-user';
import type { BackupProfile } from './profile';

/** A restore that must not run: the message says why and what to do. Nothing was changed. */
export class RestoreRefused extends ActionableError {
  override name = 'RestoreRefused';
}

export interface RestoreRequest {
  /** Recover to this moment, or to the end of the archived WAL. */
  readonly target: { readonly kind: 'time'; readonly time: Date } | { readonly kind: 'latest' };
  /** A backup label (default: the newest one that can serve the target; see restorableFrom). */
  readonly set?: string;
  /** Where to restore; default the live data directory (with inPlace only). */
  readonly targetDir?: string;
  readonly inPlace: boolean;
}

export interface RestorePlan {
  readonly dir: string;
  readonly inPlace: boolean;
  /** The backup the restore starts from. */
  readonly from: BackupSet;
  readonly args: readonly string[];
}

/** PostgreSQL's timestamp syntax, UTC, in milliseconds: what pgBackRest passes as recovery_target_time. */
/**
 * The first moment a backup can be the base of a time restore. pgBackRest records the stop time in whole seconds
 * (truncated) and, for a time target, takes a set only if it stopped in an earlier second than the target: the
 * backup really ended somewhere in that second, and a target before its end cannot be reached. So a backup that
 * stopped at 12:00:05 serves targets from 12:00:06 on.
 */
export function restorableFrom(b: Pick<BackupSet, 'stoppedAt'>): Date {
  const stop = new Date(b.stoppedAt).getTime();
  return new Date(Math.floor(stop / 1000) * 1000 + 1000);
}

export function pgTimestamp(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '+00');
}

const real = (p: string) => {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
};

/** The postmaster running on `dataDir`, from its postmaster.pid, or null. */
export function runningPostmaster(dataDir: string): number | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8');
  } catch {
    return null;
  }
  const pid = Number(text.split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && isLive(pid) ? pid : null;
}

/** Checks a request against the repository and the machine; throws RestoreRefused or returns the plan. */
export function planRestore(
  profile: BackupProfile,
  req: RestoreRequest,
  info: StanzaInfo,
  now: Date = new Date(),
): RestorePlan {
  const live = profile.postgres.dataDir;
  if (req.inPlace && req.targetDir !== undefined && real(req.targetDir) !== real(live))
    throw new RestoreRefused(
      `--in-place restores over the live data directory ${live}, not ${req.targetDir}: give one or the other`,
    );
  if (!req.inPlace && req.targetDir === undefined)
    throw new RestoreRefused(
      `say where to restore: --target-dir DIR (a new, empty directory), or --in-place to replace ${live} (PostgreSQL stopped)`,
    );
  const dir = req.inPlace ? live : path.resolve(req.targetDir!);
  if (!req.inPlace && real(dir) === real(live))
    throw new RestoreRefused(
      `${dir} is the live data directory: restore into a new directory, or stop PostgreSQL (${profile.postgres.stopCommand}) and add --in-place`,
    );
  if (req.inPlace) {
    const pid = runningPostmaster(live);
    if (pid !== null)
      throw new RestoreRefused(
        `PostgreSQL is running on ${live} (pid ${pid}): stop it first (${profile.postgres.stopCommand}); nothing was changed`,
      );
  } else if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) {
    throw new RestoreRefused(`${dir} is not empty: restore into a new or empty directory`);
  }

  const backups = info.backups;
  if (info.code !== 0 && info.code !== 2)
    throw new RestoreRefused(`the repository cannot be read: ${info.repoMessage ?? info.message}`);
  if (backups.length === 0)
    throw new RestoreRefused('the repository holds no complete backup yet: nothing to restore');
  const labels = backups.map((b) => b.label);
  let from: BackupSet;
  const args = [`--pg1-path=${dir}`];
  if (req.set !== undefined) {
    const set = backups.find((b) => b.label === req.set);
    if (!set)
      throw new RestoreRefused(
        `no backup "${req.set}" in the repository; the backups are: ${labels.join(', ')} (see powerhouse backups)`,
      );
    from = set;
    args.push(`--set=${set.label}`);
  } else {
    from = backups[backups.length - 1];
  }
  if (req.target.kind === 'time') {
    const t = req.target.time;
    if (t.getTime() > now.getTime())
      throw new RestoreRefused(`--time ${t.toISOString()} is in the future (now ${now.toISOString()})`);
    const first = restorableFrom(backups[0]);
    if (t.getTime() < first.getTime())
      throw new RestoreRefused(
        `--time ${t.toISOString()} is before the first backup ended (${first.toISOString()}, ${backups[0].label}): ` +
          `the earliest moment this repository can restore is ${first.toISOString()}`,
      );
    if (req.set !== undefined && t.getTime() < restorableFrom(from).getTime())
      throw new RestoreRefused(
        `--time ${t.toISOString()} is before backup ${from.label} ended (${from.stoppedAt}; restorable from ` +
          `${restorableFrom(from).toISOString()}): choose an earlier set or drop --set`,
      );
    if (req.set === undefined) {
      // The newest backup that certainly ended before the target; named to pgBackRest so it restores the set we say.
      from = [...backups].reverse().find((b) => restorableFrom(b).getTime() <= t.getTime()) ?? backups[0];
      args.push(`--set=${from.label}`);
    }
    args.push('--type=time', `--target=${pgTimestamp(t)}`, '--target-action=promote');
  } else {
    args.push('--type=default');
  }
  // A copy must never archive into the live cluster's repository (its new timeline would mix with the live one's).
  if (!req.inPlace) args.push('--archive-mode=off');
  // Over the live directory: reuse what is there and fix the rest (it may be partly or wholly gone).
  else args.push('--delta');
  return { dir, inPlace: req.inPlace, from, args };
}

export interface RestoreResult {
  readonly plan: RestorePlan;
  readonly seconds: number;
}

/** Runs a planned restore: the directory made for the OS user, then pgBackRest. */
export async function restore(
  profile: BackupProfile,
  req: RestoreRequest,
  onLine: (line: string) => void = () => {},
): Promise<RestoreResult> {
  const info = await stanzaInfo(profile);
  const plan = planRestore(profile, req, info);
  const t0 = Date.now();
  if (!fs.existsSync(plan.dir)) {
    fs.mkdirSync(plan.dir, { recursive: true, mode: 0o700 });
    chownTo(profile, plan.dir);
  }
  onLine(`restoring ${plan.from.type} backup ${plan.from.label} into ${plan.dir} …`);
  const r = await runPgBackRest(profile, 'restore', plan.args, {
    logLevel: 'info',
    onStderrLine: (l) => {
      if (/ (INFO|WARN): /.test(l)) onLine(l.replace(/^.*? (INFO|WARN): /, '  '));
    },
  });
  assertSucceeded(r, 'pgbackrest restore');
  if (!plan.inPlace && profile.postgres.configDir) writeStandaloneConf(profile, plan.dir);
  return { plan, seconds: (Date.now() - t0) / 1000 };
}

/** Hands a path the restore made to the OS user (when root). */
function chownTo(profile: BackupProfile, p: string): void {
  const u = backupUser(profile);
  if (isRoot()) fs.chownSync(p, u.uid, u.gid);
}

/**
 * A host keeps postgresql.conf outside the data directory (Debian's /etc/postgresql/16/main), so a copy restored
 * elsewhere gets one that reads the same tuning and access rules. archive_mode = off comes from pgBackRest
 * (postgresql.auto.conf, read last).
 */
function writeStandaloneConf(profile: BackupProfile, dir: string): void {
  const conf = path.join(dir, 'postgresql.conf');
  if (fs.existsSync(conf)) return;
  const etc = profile.postgres.configDir!;
  fs.writeFileSync(
    conf,
    `# Written by powerhouse restore: this copy reads the live cluster's tuning and access rules.\n` +
      `include_dir '${etc}/conf.d'\nhba_file = '${etc}/pg_hba.conf'\nident_file = '${etc}/pg_ident.conf'\n`,
    { mode: 0o600 },
  );
  chownTo(profile, conf);
}

export interface StartedCopy {
  readonly port: number;
  readonly dir: string;
  readonly pid: number;
  /** The command that stops it (pg_ctl's own). */
  readonly stopCommand: string;
}

/**
 * Starts a restored copy on `port` with pg_ctl, as the OS user, and waits until recovery has finished
 * (PostgreSQL removes recovery.signal when it promotes). Fails with the log's last lines if it stops.
 */
export async function startRestoredCopy(
  profile: BackupProfile,
  dir: string,
  port: number,
  timeoutMs = 3_600_000,
): Promise<StartedCopy> {
  const pgCtl = path.join(profile.postgres.binDir, 'pg_ctl');
  const log = path.join(dir, 'restore-start.log');
  // Its own socket directory: the copy shares nothing with the live cluster but the binaries.
  const opts = `-p ${port} -k ${dir} -c listen_addresses=localhost`;
  // -W: pg_ctl does not wait (its own 60 s limit would cut a long recovery short); the loop below watches.
  await runAs(profile, pgCtl, ['-D', dir, '-l', log, '-o', opts, '-W', 'start']);
  const t0 = Date.now();
  let seen: number | null = null;
  for (;;) {
    const pid = runningPostmaster(dir);
    if (pid !== null && !fs.existsSync(path.join(dir, 'recovery.signal')))
      return { port, dir, pid, stopCommand: `${pgCtl} -D ${dir} stop -m fast` };
    seen ??= pid;
    // It ran and is gone, or never came up: the log says why.
    if ((seen !== null && pid === null) || (seen === null && Date.now() - t0 > 60_000))
      throw new ActionableError(`the restored copy in ${dir} stopped during recovery: ${logTail(log)}`, {
        logFile: log,
      });
    if (Date.now() - t0 > timeoutMs)
      throw new ActionableError(
        `the restored copy in ${dir} is still recovering after ${timeoutMs / 1000} s`,
        {
          logFile: log,
        },
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}

function logTail(file: string): string {
  try {
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    return (lines.reverse().find((l) => /FATAL|PANIC|ERROR/.test(l)) ?? lines[0] ?? '').trim();
  } catch {
    return 'no log';
  }
}

async function runAs(profile: BackupProfile, cmd: string, args: string[]): Promise<void> {
  const r = await runCaptured(cmd, args, backupUser(profile), '/');
  if (r.code !== 0)
    throw new ActionableError(`${path.basename(cmd)} failed (exit ${r.code}): ${r.output.trim()}`);
}

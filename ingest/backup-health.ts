// Backup health from what the worker can see: the host probe's status file and pg_stat_archiver. Pure: WAL
// names and LSNs (BigInt: an LSN is 64 bits), archive lag, and the one state /readyz, /metrics and the upload
// refusal all use. The polling is in backup-monitor.ts.
import type { BackupStatus } from '../config-templates/backup-status';
import { formatAge, formatBytes } from '../config-templates/human';
import { counted } from '../config-templates/plural';
import type { BackupConfig } from './config';

/** Worst first after `unprotected`: the precedence is refusing > failing > stale > no_backup > ok. */
export const BACKUP_STATES = ['ok', 'unprotected', 'no_backup', 'failing', 'stale', 'refusing'] as const;
export type BackupState = (typeof BACKUP_STATES)[number];

/** `16/B374D848` → bytes since the start of WAL; null for anything else. */
export function parseLsn(text: string): bigint | null {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  return m ? (BigInt('0x' + m[1]) << 32n) + BigInt('0x' + m[2]) : null;
}

const UNITS: Record<string, bigint> = { B: 1n, kB: 1024n, MB: 1024n ** 2n, GB: 1024n ** 3n, TB: 1024n ** 4n };

/** A memory setting as current_setting() prints it (`16MB`, PostgreSQL's 1024-based units) → bytes. */
export function parseSettingBytes(text: string): bigint | null {
  const m = /^(\d+)\s*(B|kB|MB|GB|TB)?$/.exec(text.trim());
  return m ? BigInt(m[1]!) * UNITS[m[2] ?? 'B']! : null;
}

/**
 * The LSN just past the WAL segment a file name starts with (TTTTTTTTLLLLLLLLSSSSSSSS: timeline, log,
 * segment; start = log * 2^32 + segment * size). Backup labels (`….00000028.backup`) and `.partial` files
 * name their segment first; timeline history files (`00000002.history`) name none: null.
 */
export function walSegmentEndLsn(name: string, segmentBytes: bigint): bigint | null {
  const m = /^[0-9A-F]{8}([0-9A-F]{8})([0-9A-F]{8})(?:\.|$)/.exec(name);
  if (!m || segmentBytes <= 0n) return null;
  const log = BigInt('0x' + m[1]);
  const seg = BigInt('0x' + m[2]);
  if (seg >= (1n << 32n) / segmentBytes) return null;
  return (log << 32n) + (seg + 1n) * segmentBytes;
}

/** WAL written but not yet archived; never negative (the current LSN can sit at the archived segment's end). */
export function archiveLagBytes(currentLsn: bigint, archivedEndLsn: bigint): bigint {
  return currentLsn > archivedEndLsn ? currentLsn - archivedEndLsn : 0n;
}

/** One pg_stat_archiver reading, with the WAL position of the same query. */
export interface ArchiverSample {
  readonly currentLsn: bigint;
  readonly archiveMode: string;
  readonly archivedCount: number;
  readonly lastArchivedWal: string | null;
  readonly lastArchivedAt: Date | null;
  readonly failedCount: number;
  readonly lastFailedWal: string | null;
  readonly lastFailedAt: Date | null;
  /** End of the newest archived segment; kept from an earlier sample when last_archived_wal names none. */
  readonly archivedEndLsn: bigint | null;
}

/** The archiver's last attempt failed: a failure after the last success, or failures and no success yet. */
export function archiverFailing(
  a: Pick<ArchiverSample, 'archivedCount' | 'failedCount' | 'lastArchivedAt' | 'lastFailedAt'>,
): boolean {
  if (a.failedCount === 0 || !a.lastFailedAt) return false;
  if (a.archivedCount === 0 || !a.lastArchivedAt) return true;
  return a.lastFailedAt.getTime() > a.lastArchivedAt.getTime();
}

/** What reading the status file gave: the status, or why there is none. */
export type StatusFileRead =
  | { readonly ok: true; readonly status: BackupStatus }
  | { readonly ok: false; readonly problem: 'missing' | 'unreadable' | 'invalid'; readonly detail: string };

export interface BackupInputs {
  /** null: no statusFile configured (no probe on this target). */
  readonly file: StatusFileRead | null;
  /** null: not read yet; `error`: the query failed. */
  readonly archiver: ArchiverSample | { readonly error: string } | null;
  /** When the worker last read both. */
  readonly polledAt: Date | null;
}

/** The `backup` object of /readyz (docs/INGEST-API.md). */
export interface BackupReport {
  status: BackupState;
  /** One sentence: what is wrong and what to do. */
  message: string;
  lastGoodBackupAt: string | null;
  lastGoodBackupAgeSeconds: number | null;
  archiveLagBytes: number | null;
  walMarginBytes: number;
  archiveFailing: boolean;
  lastArchivedAt: string | null;
  lastFailedAt: string | null;
  repository: string | null;
  /** When the probe wrote the status file, and how long ago. */
  checkedAt: string | null;
  statusAgeSeconds: number | null;
  /** When the worker last read the status file and pg_stat_archiver. */
  polledAt: string | null;
}

const seconds = (ms: number) => Math.max(0, Math.round(ms / 1000));

const PROBE = 'the backup-status probe (powerhouse backup-status --write, run by its timer)';

/** Everything /readyz, /metrics and the upload check show, from the last readings at time `now`. */
export function assessBackup(cfg: BackupConfig, inputs: BackupInputs, now: Date): BackupReport {
  const sample = inputs.archiver && 'currentLsn' in inputs.archiver ? inputs.archiver : null;
  const status = inputs.file?.ok ? inputs.file.status : null;
  const archiving = sample?.archiveMode === 'on' || sample?.archiveMode === 'always';
  // With archive_mode off PostgreSQL keeps no WAL for the archive: the last archived name is history.
  const lag =
    archiving && sample.archivedEndLsn !== null
      ? archiveLagBytes(sample.currentLsn, sample.archivedEndLsn)
      : null;
  const failing = sample ? archiverFailing(sample) : false;
  const lastGood = status?.lastGood ?? null;
  const statusAge = status ? seconds(now.getTime() - Date.parse(status.checkedAt)) : null;
  const report: BackupReport = {
    status: 'ok',
    message: '',
    lastGoodBackupAt: lastGood?.stoppedAt ?? null,
    lastGoodBackupAgeSeconds: lastGood ? seconds(now.getTime() - Date.parse(lastGood.stoppedAt)) : null,
    archiveLagBytes: lag === null ? null : Number(lag),
    walMarginBytes: cfg.walMarginBytes,
    archiveFailing: failing,
    lastArchivedAt: sample?.lastArchivedAt?.toISOString() ?? null,
    lastFailedAt: sample?.lastFailedAt?.toISOString() ?? null,
    repository: status?.repository ?? null,
    checkedAt: status?.checkedAt ?? null,
    statusAgeSeconds: statusAge,
    polledAt: inputs.polledAt?.toISOString() ?? null,
  };
  const archiverNote =
    inputs.archiver && 'error' in inputs.archiver
      ? `; WAL archive state unknown (pg_stat_archiver: ${inputs.archiver.error})`
      : '';
  const failure = sample
    ? `archive_command: ${counted(sample.failedCount, 'failed attempt')}, the last for ${sample.lastFailedWal ?? '?'} at ${sample.lastFailedAt?.toISOString() ?? '?'}`
    : '';
  const set = (state: BackupState, message: string) => {
    report.status = state;
    report.message = message + archiverNote;
    return report;
  };

  if (lag !== null && lag >= BigInt(cfg.walMarginBytes)) {
    const why = failing
      ? `the backup repository is not taking them (${failure})`
      : status && !status.reachable
        ? `the backup repository ${status.repository} is unreachable (${status.error ?? 'no detail'})`
        : 'archiving is slower than the writes';
    return set(
      'refusing',
      `uploads paused: ${formatBytes(lag)} of WAL wait to be archived (limit ${formatBytes(cfg.walMarginBytes)}) because ${why}; uploads resume once the archive catches up`,
    );
  }
  if (!cfg.enabled)
    return set(
      'unprotected',
      `this deployment keeps no backups: ${cfg.reason ?? 'backup.enabled is false in the worker config'}`,
    );
  const pending = lag === null ? '' : `${formatBytes(lag)} of WAL wait, `;
  const pause = `uploads pause at ${formatBytes(cfg.walMarginBytes)}`;
  // The probe's word first: a host without a repository has archive_mode off on purpose.
  if (status && !status.reachable)
    return set(
      'failing',
      `the backup repository ${status.repository} is unreachable: ${status.error ?? 'no detail'}; check its address, credentials and the network`,
    );
  if (sample && !archiving)
    return set(
      'failing',
      `archive_mode is ${sample.archiveMode}: PostgreSQL archives no WAL, so there is no point-in-time recovery; set archive_mode = on and restart PostgreSQL`,
    );
  if (failing)
    return set(
      'failing',
      `WAL archiving is failing (${failure}): ${pending}${pause}; check the backup repository and pgBackRest's log`,
    );
  const file = inputs.file;
  if (file && !file.ok) {
    const what =
      file.problem === 'missing'
        ? `backup status file ${cfg.statusFile} does not exist`
        : file.problem === 'unreadable'
          ? `backup status file ${cfg.statusFile} cannot be read (${file.detail})`
          : `backup status file ${cfg.statusFile} is not a valid status (${file.detail})`;
    return set('stale', `backup health unknown: ${what}; check ${PROBE}`);
  }
  if (status && statusAge !== null && statusAge > cfg.statusMaxAgeSeconds)
    return set(
      'stale',
      `the backup status is ${statusAge} s old (limit ${cfg.statusMaxAgeSeconds} s, last written ${status.checkedAt}): ${PROBE} has stopped; check its timer`,
    );
  const reported = status?.error ? ` (pgBackRest reports: ${status.error})` : '';
  if (status && !lastGood)
    return set(
      'no_backup',
      `no complete backup in ${status.repository} yet: a restore needs one; run powerhouse backup${reported}`,
    );
  const lagText = lag === null ? 'WAL archive lag unknown' : `WAL archive lag ${formatBytes(lag)}`;
  if (!status)
    return set(
      'ok',
      `WAL archiving works (${lagText}); this target has no backup-status probe, so the last backup is not shown`,
    );
  return set(
    'ok',
    `last good backup ${lastGood!.label} (${lastGood!.type}) ${formatAge(report.lastGoodBackupAgeSeconds!)} ago in ${status.repository}; ${lagText}${reported}`,
  );
}

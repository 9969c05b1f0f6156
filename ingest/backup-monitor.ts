// Reads the backup probe's status file and pg_stat_archiver every pollSeconds through the worker's ops pool
// (the ingest role may: pg_current_wal_lsn() and pg_stat_archiver are PUBLIC in PostgreSQL 16). Requests
// never query: /readyz, /metrics and the upload check assess the last readings (backup-health.ts).
import { readFile } from 'node:fs/promises';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { backupStatusSchema } from '../config-templates/backup-status';
import {
  assessBackup,
  parseLsn,
  parseSettingBytes,
  walSegmentEndLsn,
  type ArchiverSample,
  type BackupInputs,
  type BackupReport,
  type BackupState,
  type StatusFileRead,
} from './backup-health';
import type { BackupConfig } from './config';
import { withDeadline } from './deadline';

/** As /readyz's probe: a saturated PgBouncer queues the query, and the next poll comes anyway. */
const QUERY_TIMEOUT_MS = 5_000;

const ARCHIVER_SQL = `SELECT pg_current_wal_lsn()::text AS lsn, current_setting('wal_segment_size') AS segment_size,
  current_setting('archive_mode') AS archive_mode, archived_count, last_archived_wal, last_archived_time,
  failed_count, last_failed_wal, last_failed_time FROM pg_stat_archiver`;

/** A row of ARCHIVER_SQL as node-postgres returns it (bigints as text, timestamps as Date). */
export interface ArchiverRow {
  lsn: string;
  segment_size: string;
  archive_mode: string;
  archived_count: string;
  last_archived_wal: string | null;
  last_archived_time: Date | null;
  failed_count: string;
  last_failed_wal: string | null;
  last_failed_time: Date | null;
}

export async function readStatusFile(file: string): Promise<StatusFileRead> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return e.code === 'ENOENT'
      ? { ok: false, problem: 'missing', detail: 'no such file' }
      : { ok: false, problem: 'unreadable', detail: e.code ?? e.message };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'invalid', detail: 'not JSON' };
  }
  const parsed = backupStatusSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    return { ok: false, problem: 'invalid', detail: issues.join('; ') };
  }
  return { ok: true, status: parsed.data };
}

export class BackupMonitor {
  private inputs: BackupInputs;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private lastState: BackupState | undefined;
  /** The last reading's report when it refuses uploads: refusing depends on the readings only, not on the clock. */
  private refusal: BackupReport | null = null;

  constructor(
    private readonly cfg: BackupConfig,
    private readonly pool: Pool,
    private readonly log: Logger,
  ) {
    const unread = { ok: false, problem: 'unreadable', detail: 'not read yet' } as const;
    this.inputs = { file: cfg.statusFile ? unread : null, archiver: null, polledAt: null };
  }

  /** The health as of now, from the last readings. */
  report(now = new Date()): BackupReport {
    return assessBackup(this.cfg, this.inputs, now);
  }

  /** For the upload path: the refusing report of the last reading, or null (nothing computed per upload). */
  refusing(): BackupReport | null {
    return this.refusal;
  }

  /** Reads once, then every pollSeconds until stop(). Never throws: a failed reading is a state. */
  async start(): Promise<void> {
    await this.poll();
    this.schedule();
  }

  /** Stops the timer and waits for a reading in progress (before the ops pool ends). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  poll(): Promise<void> {
    this.running ??= this.read()
      .catch((err: unknown) => this.log.error({ err }, 'backup: reading the backup health failed'))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(
      () => void this.poll().finally(() => this.schedule()),
      this.cfg.pollSeconds * 1000,
    );
    this.timer.unref();
  }

  private async read(): Promise<void> {
    const [file, archiver] = await Promise.all([
      this.cfg.statusFile ? readStatusFile(this.cfg.statusFile) : Promise.resolve(null),
      this.readArchiver(),
    ]);
    this.inputs = { file, archiver, polledAt: new Date() };
    const report = this.report();
    this.refusal = report.status === 'refusing' ? report : null;
    if (report.status !== this.lastState) {
      const level = report.status === 'ok' ? 'info' : 'warn';
      this.log[level]({ backup: report }, `backup: ${report.status}: ${report.message}`);
      this.lastState = report.status;
    }
  }

  private async readArchiver(): Promise<BackupInputs['archiver']> {
    const previous =
      this.inputs.archiver && 'currentLsn' in this.inputs.archiver ? this.inputs.archiver : null;
    try {
      const res = await withDeadline(this.pool.query<ArchiverRow>(ARCHIVER_SQL), QUERY_TIMEOUT_MS, () => {
        throw new Error(`no answer within ${QUERY_TIMEOUT_MS} ms`);
      });
      return archiverSample(res.rows[0]!, previous);
    } catch (err) {
      return { error: (err as Error).message };
    }
  }
}

/** A row → a sample; `previous` supplies the archived end when the last archived file names no segment. */
export function archiverSample(
  row: ArchiverRow,
  previous: ArchiverSample | null,
): ArchiverSample | { error: string } {
  const currentLsn = parseLsn(row.lsn);
  const segmentBytes = parseSettingBytes(row.segment_size);
  if (currentLsn === null || segmentBytes === null)
    return { error: `unexpected LSN "${row.lsn}" or wal_segment_size "${row.segment_size}"` };
  // A history file names no segment: keep what the last segment name said.
  const end = row.last_archived_wal ? walSegmentEndLsn(row.last_archived_wal, segmentBytes) : null;
  return {
    currentLsn,
    archiveMode: row.archive_mode,
    archivedCount: Number(row.archived_count),
    lastArchivedWal: row.last_archived_wal,
    lastArchivedAt: row.last_archived_time,
    failedCount: Number(row.failed_count),
    lastFailedWal: row.last_failed_wal,
    lastFailedAt: row.last_failed_time,
    archivedEndLsn: end ?? (row.last_archived_wal ? (previous?.archivedEndLsn ?? null) : null),
  };
}

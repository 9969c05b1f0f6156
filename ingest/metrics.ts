// Prometheus metrics of one worker. Each server gets its own Registry so several can run in one process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Pool } from 'pg';
import { BACKUP_STATES, type BackupReport } from './backup-health';

export interface IngestMetrics {
  readonly registry: Registry;
  readonly rows: Counter<'table'>;
  readonly bytes: Counter<'table'>;
  readonly uploads: Counter<'table' | 'status'>;
  readonly duration: Histogram<'table' | 'outcome'>;
  readonly queueWait: Histogram;
  readonly active: Gauge;
  readonly errors: Counter<'kind'>;
  readonly responses: Counter<'route' | 'status'>;
}

export function createMetrics(pool: Pool, opts: { defaultMetrics?: boolean } = {}): IngestMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'powerhouse_ingest_' });
  const registers = [registry];
  const poolGauge = new Gauge({
    name: 'powerhouse_ingest_db_pool_connections',
    help: 'Worker database pool: total, idle and waiting (clients queued for a connection)',
    labelNames: ['state'],
    registers,
    collect() {
      this.set({ state: 'total' }, pool.totalCount);
      this.set({ state: 'idle' }, pool.idleCount);
      this.set({ state: 'waiting' }, pool.waitingCount);
    },
  });
  void poolGauge;
  return {
    registry,
    rows: new Counter({
      name: 'powerhouse_ingest_rows_total',
      help: 'Rows committed',
      labelNames: ['table'],
      registers,
    }),
    bytes: new Counter({
      name: 'powerhouse_ingest_bytes_total',
      help: 'Request body bytes of committed uploads',
      labelNames: ['table'],
      registers,
    }),
    uploads: new Counter({
      name: 'powerhouse_ingest_uploads_total',
      help: 'Upload requests answered (refusals before any database work included), by HTTP status; aborted: the client went away',
      labelNames: ['table', 'status'],
      registers,
    }),
    duration: new Histogram({
      name: 'powerhouse_ingest_upload_duration_seconds',
      help: 'Upload request duration from request to response, by outcome (committed, replayed or the error kind)',
      labelNames: ['table', 'outcome'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
      registers,
    }),
    // What a user waits before the first body byte is read: node pool + PgBouncer + BEGIN (issue 6's
    // "time to first byte accepted", seen from the worker).
    queueWait: new Histogram({
      name: 'powerhouse_ingest_upload_queue_wait_seconds',
      help: 'Upload wait from request to its transaction begun (pool connection + BEGIN), before any body byte is read',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers,
    }),
    active: new Gauge({ name: 'powerhouse_ingest_active_uploads', help: 'Uploads in progress', registers }),
    errors: new Counter({
      name: 'powerhouse_ingest_errors_total',
      help: 'Failed requests by error kind',
      labelNames: ['kind'],
      registers,
    }),
    responses: new Counter({
      name: 'powerhouse_ingest_http_responses_total',
      help: 'Requests answered, by route and HTTP status; aborted: no response was sent (the client went away)',
      labelNames: ['route', 'status'],
      registers,
    }),
  };
}

/**
 * Backup health, read from the monitor at each scrape (only with a backup section). A value the worker does not
 * know (no backup yet, no status file, lag before the first archived segment) is NaN, never a made-up 0.
 */
export function registerBackupMetrics(registry: Registry, report: () => BackupReport): void {
  const registers = [registry];
  const orNaN = (v: number | null) => v ?? NaN;
  const gauge = (name: string, help: string, value: (r: BackupReport) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(value(report()));
      },
    });
  gauge(
    'powerhouse_backup_last_good_timestamp_seconds',
    'Unix time the newest complete backup finished (NaN: none known)',
    (r) => (r.lastGoodBackupAt ? Date.parse(r.lastGoodBackupAt) / 1000 : NaN),
  );
  gauge(
    'powerhouse_backup_status_age_seconds',
    "Age of the backup probe's status file (NaN: none read)",
    (r) => orNaN(r.statusAgeSeconds),
  );
  gauge('powerhouse_wal_archive_lag_bytes', 'WAL written but not yet archived (NaN: unknown)', (r) =>
    orNaN(r.archiveLagBytes),
  );
  gauge('powerhouse_wal_archive_failing', "1 while PostgreSQL's archiver fails, else 0", (r) =>
    r.archiveFailing ? 1 : 0,
  );
  gauge(
    'powerhouse_wal_archive_margin_bytes',
    'Un-archived WAL at which new uploads are refused (503 wal_archive_backlog)',
    (r) => r.walMarginBytes,
  );
  new Gauge({
    name: 'powerhouse_backup_status',
    help: 'Backup state: 1 for the current one, 0 for the others (as in /readyz)',
    labelNames: ['status'],
    registers,
    collect() {
      const now = report().status;
      for (const status of BACKUP_STATES) this.set({ status }, status === now ? 1 : 0);
    },
  });
}

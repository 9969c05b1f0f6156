// GET /v1/admin/status's body: this worker's uploads (memory), the database (one statement on the ops pool)
// and PgBouncer's pools (one console connection). Computed at most once per CACHE_MS and shared by every
// viewer, so 40 open dashboards cost what one does; a reading under way is joined, never repeated.
import type { Pool } from 'pg';
import type { BackupMonitor } from '../backup-monitor';
import type { CatalogTable } from '../catalog';
import type { IngestLimits } from '../config';
import { withDeadline } from '../deadline';
import type { UploadTracker } from '../upload-tracker';
import { DatabaseStatusReader } from './database';
import type { ThroughputHistory } from './history';
import { PgBouncerConsole } from './pgbouncer-console';
import type { AdminStatus, FinishedUploadView, LiveUpload, SectionError, WorkerStatus } from './types';
import type { CopyGate } from '../copy-gate';

export const CACHE_MS = 1_000;
/** The dashboard polls this often (the bound: live updates at least every 2 s). */
export const POLL_MS = 2_000;
/** A reading that takes longer shows its section as an error; the next poll tries again. */
export const READ_TIMEOUT_MS = 2_000;
/** How long an answer waits for a new database/PgBouncer reading before it shows the last one. */
export const FRESH_WAIT_MS = 300;
const HOUR_MS = 60 * 60_000;
const RECENT_KEEP = 50;

export interface StatusSources {
  readonly limits: IngestLimits;
  readonly tracker: UploadTracker;
  readonly gate: CopyGate;
  /** The upload pool, for its counters only: no status query runs on it. */
  readonly uploadPool: Pool;
  readonly opsPool: Pool;
  readonly history: ThroughputHistory;
  readonly pgbouncerAdminUrl?: string;
  readonly backup?: BackupMonitor;
  readonly catalog: () => readonly CatalogTable[];
}

interface ExternalReading {
  readonly readAt: string;
  readonly database: AdminStatus['database'];
  readonly pgbouncer: AdminStatus['pgbouncer'];
}

const sectionError = (err: unknown): SectionError => ({ error: (err as Error).message ?? String(err) });

export class StatusCollector {
  private readonly database: DatabaseStatusReader;
  private readonly bouncer: PgBouncerConsole | undefined;
  private readonly startedAt = new Date().toISOString();
  private cached: { at: number; body: AdminStatus } | undefined;
  private pending: Promise<AdminStatus> | undefined;
  private external: ExternalReading | undefined;
  private reading: Promise<ExternalReading> | undefined;

  constructor(private readonly s: StatusSources) {
    this.database = new DatabaseStatusReader(s.opsPool);
    this.bouncer = s.pgbouncerAdminUrl ? new PgBouncerConsole(s.pgbouncerAdminUrl) : undefined;
  }

  /** The status, from the cache when it is younger than CACHE_MS. */
  status(): Promise<AdminStatus> {
    const c = this.cached;
    if (c && Date.now() - c.at < CACHE_MS) return Promise.resolve(c.body);
    this.pending ??= this.compute()
      .then((body) => {
        this.cached = { at: Date.now(), body };
        return body;
      })
      .finally(() => (this.pending = undefined));
    return this.pending;
  }

  async close(): Promise<void> {
    await this.pending?.catch(() => undefined);
    await this.reading?.catch(() => undefined);
    await this.bouncer?.close();
  }

  /** The database and PgBouncer, read together (one reading at a time, shared). */
  private readExternal(): Promise<ExternalReading> {
    this.reading ??= (async (): Promise<ExternalReading> => {
      const database = await this.database.read(this.s.catalog(), READ_TIMEOUT_MS).catch(sectionError);
      // After the database reading, not beside it: SHOW POOLS would otherwise count that reading's own
      // server connection as active, and never match what an observer sees a moment later.
      const pgbouncer = this.bouncer
        ? await this.bouncer
            .showPools(READ_TIMEOUT_MS)
            .then((pools) => ({ pools: pools as Record<string, string | number | null>[] }))
            .catch(sectionError)
        : null;
      return { readAt: new Date().toISOString(), database, pgbouncer };
    })()
      .then((r) => (this.external = r))
      .finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async compute(): Promise<AdminStatus> {
    // Under load the database answers slowly (the ops pool waits its turn in PgBouncer): the worker's own
    // numbers must not wait with it. Past FRESH_WAIT_MS the last reading is shown (readAt says when it was
    // taken) and the one under way serves the next answer.
    const pending = this.readExternal();
    const last = this.external;
    const ext = last ? await withDeadline(pending, FRESH_WAIT_MS, () => last) : await pending;
    return {
      generatedAt: new Date().toISOString(),
      readAt: ext.readAt,
      pollMs: POLL_MS,
      worker: this.worker(),
      database: ext.database,
      pgbouncer: ext.pgbouncer,
      backup: this.s.backup?.report() ?? null,
    };
  }

  private worker(): WorkerStatus {
    const { tracker, uploadPool, history, limits, gate } = this.s;
    const now = Date.now();
    const live: LiveUpload[] = tracker.liveUploads.map((u) => {
      const elapsedSeconds = Math.max(0, (now - u.startedAt) / 1000);
      const rows = u.rows();
      return {
        uploadId: u.id,
        token: u.tokenId,
        table: u.table,
        state: u.state === 'committing' || u.state === 'queued' ? u.state : 'receiving',
        rows,
        bytes: u.bytes,
        bytesTotal: u.declaredBytes ?? null,
        startedAt: new Date(u.startedAt).toISOString(),
        elapsedSeconds,
        rowsPerSecond: elapsedSeconds > 0 ? rows / elapsedSeconds : 0,
        bytesPerSecond: elapsedSeconds > 0 ? u.bytes / elapsedSeconds : 0,
      };
    });
    const finished = tracker.finishedSince(now - HOUR_MS);
    const failedByKind: Record<string, number> = {};
    let committed = 0;
    for (const f of finished) {
      if (f.status.state === 'committed') committed++;
      else {
        const kind = String(f.status.error?.error ?? 'unknown');
        failedByKind[kind] = (failedByKind[kind] ?? 0) + 1;
      }
    }
    const recent: FinishedUploadView[] = finished.slice(0, RECENT_KEEP).map((f) => ({
      uploadId: f.status.uploadId,
      token: f.tokenId,
      table: f.status.table,
      state: f.status.state === 'committed' ? 'committed' : 'failed',
      rows: f.status.rows,
      bytes: f.status.bytes,
      startedAt: new Date(f.startedAt).toISOString(),
      finishedAt: new Date(f.at).toISOString(),
      ...(f.status.error ? { error: f.status.error } : {}),
    }));
    return {
      pid: process.pid,
      startedAt: this.startedAt,
      uploadsInFlight: live.length,
      maxConcurrentUploads: limits.maxConcurrentUploads,
      copyTurns: { limit: gate.limit, running: gate.running, waiting: gate.waiting },
      uploadPool: {
        total: uploadPool.totalCount,
        idle: uploadPool.idleCount,
        waiting: uploadPool.waitingCount,
      },
      live,
      throughput: {
        intervalSeconds: history.intervalMs / 1000,
        windowSeconds: history.windowMs / 1000,
        samples: history.series,
      },
      queueWaitP95Seconds: history.queueWaitP95(),
      lastHour: { committed, failed: finished.length - committed, failedByKind, recent },
    };
  }
}

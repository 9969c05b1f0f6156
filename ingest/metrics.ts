// Prometheus metrics of one worker. Each server gets its own Registry so several can run in one process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Pool } from 'pg';

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

// The database part of the status in one statement on the worker's ops pool (never the upload pool): one
// round trip per reading, bounded by a deadline. What the ingest role may see: every backend's count, but the
// state and transaction start only of its own sessions (PostgreSQL shows other roles' to pg_read_all_stats).
import type { Pool } from 'pg';
import type { CatalogTable } from '../catalog';
import { withDeadline } from '../deadline';
import type { DatabaseStatus, DatabaseUploadRecord } from './types';

const STATUS_SQL = `
SELECT json_build_object(
  'maxConnections', current_setting('max_connections')::int,
  'numbackends', (SELECT coalesce(sum(numbackends), 0)::int FROM pg_stat_database),
  'byState', (SELECT coalesce(json_object_agg(state, n), '{}') FROM (
      SELECT coalesce(state, 'unknown') AS state, count(*)::int AS n FROM pg_stat_activity
       WHERE backend_type = 'client backend' GROUP BY 1) s),
  'databaseBytes', pg_database_size(current_database()),
  'tables', (SELECT coalesce(json_agg(json_build_object('table', t.name, 'totalBytes', pg_total_relation_size(c.oid),
                                                        'rowsEstimate', c.reltuples::float8) ORDER BY t.ord), '[]')
               FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS t(schema, rel, name, ord)
               JOIN pg_namespace n ON n.nspname = t.schema
               JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.rel),
  'checkpoints', (SELECT json_build_object('timed', checkpoints_timed, 'requested', checkpoints_req,
                                           'writeSeconds', checkpoint_write_time / 1000, 'syncSeconds', checkpoint_sync_time / 1000,
                                           'statsResetAt', stats_reset) FROM pg_stat_bgwriter),
  'walBytes', pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8,
  'oldest', (SELECT json_build_object('pid', pid, 'role', usename, 'state', state, 'applicationName', application_name,
                                      'ageSeconds', extract(epoch FROM now() - xact_start)::float8)
               FROM pg_stat_activity WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid()
              ORDER BY xact_start LIMIT 1),
  'uploadCounts', (SELECT coalesce(json_agg(x), '[]') FROM (
      SELECT status, error->>'error' AS kind, count(*)::int AS n, sum(rows)::float8 AS rows, sum(bytes)::float8 AS bytes
        FROM powerhouse.uploads WHERE finished_at > now() - interval '1 hour' GROUP BY 1, 2) x),
  'recentUploads', (SELECT coalesce(json_agg(json_build_object('uploadId', upload_id, 'token', token_id, 'table', table_name,
                                      'status', status, 'rows', rows, 'bytes', bytes, 'finishedAt', finished_at,
                                      'durationMs', duration_ms, 'errorKind', error->>'error')), '[]') FROM (
      SELECT * FROM powerhouse.uploads WHERE finished_at > now() - interval '1 hour'
       ORDER BY finished_at DESC LIMIT 20) r)
) AS status`;

interface StatusRow {
  maxConnections: number;
  numbackends: number;
  byState: Record<string, number>;
  databaseBytes: number;
  tables: DatabaseStatus['tables'];
  checkpoints: DatabaseStatus['checkpoints'];
  walBytes: number;
  oldest: DatabaseStatus['oldestTransaction'];
  uploadCounts: {
    status: 'committed' | 'failed';
    kind: string | null;
    n: number;
    rows: number;
    bytes: number;
  }[];
  recentUploads: DatabaseUploadRecord[];
}

/** WAL readings kept for the rate: the newest minute. */
const WAL_WINDOW_MS = 60_000;
const WAL_MIN_SPAN_MS = 5_000;

export class DatabaseStatusReader {
  private readonly wal: { t: number; bytes: number }[] = [];

  constructor(private readonly opsPool: Pool) {}

  async read(tables: readonly CatalogTable[], timeoutMs: number): Promise<DatabaseStatus> {
    const query = this.opsPool.query<{ status: StatusRow }>(STATUS_SQL, [
      tables.map((t) => t.schema),
      tables.map((t) => t.table),
      tables.map((t) => t.name),
    ]);
    const res = await withDeadline(query, timeoutMs, () => {
      throw new Error(`no database answer within ${timeoutMs} ms`);
    });
    const s = res.rows[0].status;
    const visible = Object.values(s.byState).reduce((a, b) => a + b, 0);
    const failedByKind: Record<string, number> = {};
    const sum = { committed: 0, failed: 0, rows: 0, bytes: 0 };
    for (const c of s.uploadCounts) {
      sum[c.status] += c.n;
      if (c.status === 'committed') {
        sum.rows += c.rows;
        sum.bytes += c.bytes;
      }
      if (c.status === 'failed')
        failedByKind[c.kind ?? 'unknown'] = (failedByKind[c.kind ?? 'unknown'] ?? 0) + c.n;
    }
    return {
      maxConnections: s.maxConnections,
      connections: {
        total: s.numbackends,
        byState: s.byState,
        stateHidden: Math.max(0, s.numbackends - visible),
      },
      databaseBytes: Number(s.databaseBytes),
      tables: s.tables,
      checkpoints: s.checkpoints,
      walBytes: s.walBytes,
      walBytesPerSecond: this.walRate(Date.now(), s.walBytes),
      oldestTransaction: s.oldest,
      lastHour: {
        ...sum,
        failedByKind,
        recent: s.recentUploads.map((r) => ({ ...r, rows: Number(r.rows), bytes: Number(r.bytes) })),
      },
    };
  }

  /** Bytes per second between this reading and the oldest of the last minute at least 5 s before it. */
  private walRate(t: number, bytes: number): number | null {
    this.wal.push({ t, bytes });
    while (this.wal.length > 1 && t - this.wal[0].t > WAL_WINDOW_MS) this.wal.shift();
    const first = this.wal[0];
    if (t - first.t < WAL_MIN_SPAN_MS) return null;
    return Math.max(0, bytes - first.bytes) / ((t - first.t) / 1000);
  }
}

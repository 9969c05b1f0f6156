// A streaming upload of one file to the ingest endpoint with node:http: the file is read in 256 KiB pieces
// and never held in memory whole.
import fs from 'node:fs';
import http from 'node:http';
import { CONTENT_TYPES, type RowFormat } from './row-encoders';

export interface UploadOptions {
  baseUrl: string;
  token: string;
  table: string;
  format: RowFormat;
  file: string;
  /** Sent as ?columns= (CSV, TSV, pgcopy); NDJSON names its columns in each object. */
  columns?: readonly string[];
  idempotencyKey: string;
}

export interface UploadResult {
  status: number;
  ok: boolean;
  /** Request start to the full response. */
  ms: number;
  /** Date.now() when the request started, to line up with PostgreSQL's timestamps. */
  startedAtEpochMs: number;
  rows: number;
  bytes: number;
  /** Set for a non-201 answer or a connection failure. */
  error?: string;
  /** A connection-level failure (refused, reset) rather than an HTTP answer. */
  connectionError?: boolean;
}

export async function uploadFile(o: UploadOptions): Promise<UploadResult> {
  const size = fs.statSync(o.file).size;
  const u = new URL(o.baseUrl);
  const query =
    o.columns && o.format !== 'ndjson' ? `?columns=${o.columns.map(encodeURIComponent).join(',')}` : '';
  const startedAtEpochMs = Date.now();
  const t0 = performance.now();
  return new Promise<UploadResult>((resolve) => {
    const base = { startedAtEpochMs, rows: 0, bytes: size };
    const req = http.request(
      {
        method: 'POST',
        host: u.hostname,
        port: u.port,
        path: `/v1/tables/${encodeURIComponent(o.table)}/uploads${query}`,
        agent: false,
        headers: {
          authorization: `Bearer ${o.token}`,
          'content-type': CONTENT_TYPES[o.format],
          'content-length': String(size),
          'idempotency-key': o.idempotencyKey,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          const ms = performance.now() - t0;
          const status = res.statusCode ?? 0;
          let body: Record<string, unknown> = {};
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // reported below as a non-JSON answer
          }
          const ok = status === 201;
          resolve({
            ...base,
            status,
            ok,
            ms,
            rows: Number(body.rows ?? 0),
            error: ok ? undefined : `HTTP ${status}: ${text.slice(0, 300)}`,
          });
        });
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) =>
      resolve({
        ...base,
        status: 0,
        ok: false,
        ms: performance.now() - t0,
        error: `${err.code ?? 'error'}: ${err.message}`,
        connectionError: true,
      }),
    );
    // Headers go out now, not with the first file chunk: the upload starts when the request does.
    req.flushHeaders();
    const file = fs.createReadStream(o.file, { highWaterMark: 256 * 1024 });
    file.on('error', (err) => req.destroy(err));
    file.pipe(req);
  });
}

// A streaming upload of one file to the ingest endpoint with node:http (the file is never buffered), and
// the "first byte accepted" probe.
//
// Time to first byte accepted: from the moment the request starts until the worker reports, through the
// progress API (GET /v1/uploads?idempotencyKey=…), that it has taken body bytes off the socket. The worker
// only starts reading the body once the upload holds a database connection and has begun its transaction,
// so this is the queuing a user sees (worker slot, pool, PgBouncer), not the kernel's socket buffers,
// which accept the first few hundred KiB from any client whether or not anyone reads them. The probe polls
// every `probeIntervalMs`, so the figure is an upper bound that is late by at most one interval plus one
// round trip.
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
  /** Poll the progress API for the first accepted byte (see above). */
  probeFirstAccepted?: boolean;
  probeIntervalMs?: number;
}

export interface UploadResult {
  status: number;
  ok: boolean;
  /** Request start to the full response. */
  ms: number;
  /** Request start to the worker's first accepted body byte; null when not probed or never seen. */
  firstAcceptedMs: number | null;
  rows: number;
  bytes: number;
  /** Set for a non-201 answer or a connection failure. */
  error?: string;
  /** A connection-level failure (refused, reset) rather than an HTTP answer. */
  connectionError?: boolean;
}

const probeAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function getJson(url: string, token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: probeAgent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
        } catch {
          resolve({ status: res.statusCode ?? 0, body: {} });
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function probeFirstAccepted(
  o: UploadOptions,
  t0: number,
  done: { finished: boolean },
): Promise<number | null> {
  const url = `${o.baseUrl}/v1/uploads?idempotencyKey=${encodeURIComponent(o.idempotencyKey)}`;
  const interval = o.probeIntervalMs ?? 25;
  // The worker registers an upload as soon as it has read the request headers; a lookup before that falls
  // through to the database, so the first poll waits a moment.
  await sleep(10);
  while (!done.finished) {
    const seenAt = performance.now();
    try {
      const r = await getJson(url, o.token);
      if (r.status === 200 && Number(r.body.bytes) > 0) return seenAt - t0;
    } catch {
      // the worker may be busy or the upload not registered yet: try again
    }
    await sleep(interval);
  }
  return null;
}

/**
 * One progress lookup for a key that does not exist: it goes to the database, so the worker's connection for
 * lookups is open before a measurement instead of during it. Resolves with the HTTP status (404 expected).
 */
export async function warmProgressLookup(baseUrl: string, token: string): Promise<number> {
  const r = await getJson(`${baseUrl}/v1/uploads?idempotencyKey=bench-warm-up`, token);
  return r.status;
}

export async function uploadFile(o: UploadOptions): Promise<UploadResult> {
  const size = fs.statSync(o.file).size;
  const u = new URL(o.baseUrl);
  const query =
    o.columns && o.format !== 'ndjson' ? `?columns=${o.columns.map(encodeURIComponent).join(',')}` : '';
  const done = { finished: false };
  const t0 = performance.now();
  const probe = o.probeFirstAccepted ? probeFirstAccepted(o, t0, done) : Promise.resolve(null);
  const result = await new Promise<UploadResult>((resolve) => {
    const base = { firstAcceptedMs: null, rows: 0, bytes: size };
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
    const file = fs.createReadStream(o.file, { highWaterMark: 256 * 1024 });
    file.on('error', (err) => req.destroy(err));
    file.pipe(req);
  });
  done.finished = true;
  result.firstAcceptedMs = await probe;
  return result;
}

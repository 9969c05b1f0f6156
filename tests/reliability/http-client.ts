// The client side of the ingest endpoint for reliability tests: uploads whose body the test writes piece by
// piece (to break things mid-stream), outcomes that include "the connection dropped", and raw sockets for
// disconnects at exact byte positions of the HTTP framing.
import http from 'node:http';
import net from 'node:net';

export const CONTENT_TYPES = {
  ndjson: 'application/x-ndjson',
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  pgcopy: 'application/x-pgcopy',
} as const;
export type Format = keyof typeof CONTENT_TYPES;

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
  text: string;
}

/** What a client sees: a response, or the connection going away before one arrived. */
export type Outcome = HttpResult | { dropped: string };

export const isDropped = (o: Outcome): o is { dropped: string } => 'dropped' in o;

export interface UploadOptions {
  token?: string;
  key?: string;
  columns?: string;
  headers?: Record<string, string>;
  contentType?: string;
}

export interface OpenUpload {
  readonly req: http.ClientRequest;
  /** Settles with the response or the drop; never rejects. */
  readonly outcome: Promise<Outcome>;
  /** Writes one piece (one HTTP chunk) and waits until the socket took it. */
  write(piece: string | Buffer): Promise<void>;
  end(last?: string | Buffer): void;
  /** Drops the connection from the client side (RST-free close of the socket). */
  abort(): void;
  /** True once a response (or a drop) has arrived. */
  readonly settled: boolean;
}

function readResponse(res: http.IncomingMessage): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', reject);
    res.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> = {};
      try {
        body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        // not JSON (/metrics)
      }
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
    });
  });
}

export function uploadPath(table: string, columns?: string): string {
  const q = columns !== undefined ? `?columns=${encodeURIComponent(columns)}` : '';
  return `/v1/tables/${table}/uploads${q}`;
}

/** Starts a chunked upload; the test writes the body. */
export function openUpload(
  baseUrl: string,
  table: string,
  format: Format,
  opts: UploadOptions = {},
): OpenUpload {
  const headers: Record<string, string> = {
    'Content-Type': opts.contentType ?? CONTENT_TYPES[format],
    ...(opts.headers ?? {}),
  };
  if (opts.token !== undefined) headers.Authorization = `Bearer ${opts.token}`;
  if (opts.key !== undefined) headers['Idempotency-Key'] = opts.key;
  const req = http.request(new URL(uploadPath(table, opts.columns), baseUrl), {
    method: 'POST',
    headers,
    agent: false,
  });
  let settled = false;
  const outcome = new Promise<Outcome>((resolve) => {
    let responded = false;
    req.on('response', (res) => {
      responded = true;
      readResponse(res).then(
        (r) => resolve(r),
        (err: Error) => resolve({ dropped: `response cut: ${err.message}` }),
      );
    });
    req.on('error', (err) => {
      if (!responded) resolve({ dropped: err.message });
    });
    req.on('close', () => {
      if (!responded) resolve({ dropped: 'closed before a response' });
    });
  }).then((o) => {
    settled = true;
    return o;
  });
  req.flushHeaders();
  return {
    req,
    outcome,
    write: (piece) =>
      new Promise<void>((resolve) => {
        if (req.destroyed || req.writableEnded) return resolve();
        req.write(piece, () => resolve());
      }),
    end: (last) => {
      if (!req.destroyed && !req.writableEnded) req.end(last);
    },
    abort: () => req.destroy(),
    get settled() {
      return settled;
    },
  };
}

/** A whole upload: the body written in the given pieces (each its own HTTP chunk), then the outcome. */
export async function upload(
  baseUrl: string,
  table: string,
  format: Format,
  body: string | Buffer | (string | Buffer)[],
  opts: UploadOptions = {},
): Promise<Outcome> {
  const u = openUpload(baseUrl, table, format, opts);
  for (const piece of Array.isArray(body) ? body : [body]) {
    if (u.settled) break;
    await u.write(piece);
  }
  u.end();
  return u.outcome;
}

/** A response is expected (not a drop): returns it, or fails saying what happened instead. */
export function answered(o: Outcome): HttpResult {
  if (isDropped(o)) throw new Error(`expected an HTTP response, the connection dropped: ${o.dropped}`);
  return o;
}

export async function getJson(baseUrl: string, path: string, token?: string): Promise<HttpResult> {
  const res = await fetch(new URL(path, baseUrl), {
    headers: token !== undefined ? { Authorization: `Bearer ${token}` } : {},
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    // not JSON
  }
  return { status: res.status, headers: Object.fromEntries(res.headers), body, text };
}

/**
 * Sends `bytes` (a complete raw HTTP/1.1 request, or a prefix of one) on a fresh TCP connection, then
 * closes the socket without waiting for an answer: the client vanishing at that exact byte.
 */
export function sendAndVanish(baseUrl: string, bytes: Buffer): Promise<void> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), hostname, () => {
      sock.write(bytes, () => {
        // Let the server read what was sent before the FIN arrives, so the cut lands mid-request.
        setTimeout(() => {
          sock.destroy();
          resolve();
        }, 30);
      });
    });
    sock.on('error', reject);
  });
}

/** A raw chunked POST: the request head, then the body framed as one HTTP chunk per piece, then the 0-chunk. */
export function rawChunkedUpload(
  baseUrl: string,
  table: string,
  format: Format,
  pieces: Buffer[],
  opts: UploadOptions & { token: string },
): { head: Buffer; chunks: Buffer[]; terminator: Buffer } {
  const { host } = new URL(baseUrl);
  const headers: string[] = [
    `POST ${uploadPath(table, opts.columns)} HTTP/1.1`,
    `Host: ${host}`,
    `Authorization: Bearer ${opts.token}`,
    `Content-Type: ${CONTENT_TYPES[format]}`,
    'Transfer-Encoding: chunked',
  ];
  if (opts.key !== undefined) headers.push(`Idempotency-Key: ${opts.key}`);
  const head = Buffer.from(headers.join('\r\n') + '\r\n\r\n', 'latin1');
  const chunks = pieces.map((p) =>
    Buffer.concat([Buffer.from(p.length.toString(16) + '\r\n', 'latin1'), p, Buffer.from('\r\n', 'latin1')]),
  );
  return { head, chunks, terminator: Buffer.from('0\r\n\r\n', 'latin1') };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Retries an upload while the stack recovers (503, or a dropped connection), at most `attempts` times, a
 * short pause apart: the tests do not sit out Retry-After (5 s) but do check that it was sent.
 */
export async function uploadUntilAnswered(
  send: () => Promise<Outcome>,
  attempts = 200,
  pauseMs = 100,
): Promise<{ result: HttpResult; transient: Outcome[] }> {
  const transient: Outcome[] = [];
  for (let i = 0; i < attempts; i++) {
    const o = await send();
    if (!isDropped(o) && o.status !== 503) return { result: o, transient };
    if (!isDropped(o) && o.headers['retry-after'] === undefined)
      throw new Error(`503 without Retry-After: ${o.text}`);
    transient.push(o);
    await sleep(pauseMs);
  }
  throw new Error(
    `no answer but 503/drop after ${attempts} attempts; last: ${JSON.stringify(transient.at(-1))}`,
  );
}

/**
 * A TCP proxy in front of the worker that forwards every request whole but loses every response: when the
 * worker starts answering, the client's connection is cut. The worker sees a normal exchange; the client
 * sees a dropped connection (a response lost on the way back).
 */
export async function startResponseLosingProxy(
  targetUrl: string,
): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(targetUrl);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream);
    upstream.once('data', () => {
      client.destroy();
      upstream.resume(); // read and discard the rest of the response so the worker finishes writing it
    });
    client.on('close', () => upstream.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

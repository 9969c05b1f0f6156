// One HTTP exchange with the ingest worker over node:http(s): a POST whose body is written chunk by chunk
// as the socket drains (so memory stays at a chunk or two whatever the upload's size), or a small GET.
// The three ways an exchange ends are kept apart because the retry loop treats them differently.
import http from 'node:http';
import https from 'node:https';
import { UploadAbortedError } from './errors';
import { CertificateTrustError, TrustingAgent, type ResolvedTrust } from './tls-trust';

export interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Parsed JSON, or the text when the body is not JSON. */
  body: unknown;
}

/** The connection failed (refused, reset, timed out…): the server stored nothing or the whole upload. */
export class TransportError extends Error {
  override name = 'TransportError';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Producing the body failed (a bad row found locally, a file read error); the request was aborted. */
export class BodySourceError extends Error {
  override name = 'BodySourceError';
  constructor(readonly error: unknown) {
    super(error instanceof Error ? error.message : String(error), { cause: error });
  }
}

export interface ExchangeOptions {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  /** POST body chunks; each is written when the previous one has drained. */
  body?: AsyncIterable<Buffer>;
  signal?: AbortSignal;
  /** No byte sent or received for this long: the attempt fails with ETIMEDOUT. */
  timeoutMs: number;
  agent?: http.Agent | false;
  /** The pinned certificate (resolveTrust); https without `agent` is always checked by TrustingAgent. */
  trust?: ResolvedTrust;
  /** After each chunk is handed to the socket: total bytes so far in this exchange. */
  onChunkSent?: (bytes: number) => void;
}

const MAX_REPLY_BYTES = 1 << 20;

export interface Exchange {
  /** Rejects with TransportError, BodySourceError, CertificateTrustError or UploadAbortedError. */
  reply: Promise<HttpReply>;
  /**
   * Settles once the body writer has let go of the body iterator. A retry waits for it, so two attempts
   * never pull from one source at the same time.
   */
  bodyReleased: Promise<void>;
}

/** One request/response. */
export function exchange(url: URL, opts: ExchangeOptions): Exchange {
  let bodyReleased: Promise<void> = Promise.resolve();
  const reply = new Promise<HttpReply>((resolve, reject) => {
    const signal = opts.signal;
    if (signal?.aborted) return reject(new UploadAbortedError({ cause: signal.reason }));
    const mod = url.protocol === 'https:' ? https : http;
    // agent false by default: one fresh connection per attempt, never a pooled socket the worker closed.
    // "Connection: keep-alive" all the same: on "close" a server that answers early (503, 401, bad row)
    // closes the socket after its answer, and our next write can then fail (EPIPE) before the answer is
    // read. With keep-alive it keeps reading; we read the answer and close the socket ourselves.
    // https: a fresh TrustingAgent, which checks the certificate before node:http writes a byte.
    const agent =
      opts.agent ?? (url.protocol === 'https:' ? new TrustingAgent(opts.trust, opts.timeoutMs) : false);
    const req = mod.request(url, {
      method: opts.method,
      headers: { Connection: 'keep-alive', ...opts.headers },
      agent,
    });
    let settled = false;
    let responded = false;
    let wakeWriter: (() => void) | undefined;

    const settle = (err: unknown, reply?: HttpReply) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      wakeWriter?.();
      if (err) {
        req.destroy();
        reject(err);
      } else {
        // Answered before the whole body went out (an early 4xx/503): the socket cannot be reused.
        if (!req.writableFinished) req.destroy();
        resolve(reply!);
      }
    };
    const onAbort = () => settle(new UploadAbortedError({ cause: signal!.reason }));
    signal?.addEventListener('abort', onAbort, { once: true });

    req.setTimeout(opts.timeoutMs, () =>
      settle(new TransportError('ETIMEDOUT', `no data sent or received for ${opts.timeoutMs} ms`)),
    );
    req.on('error', (err: NodeJS.ErrnoException) =>
      // The wrong certificate is final: retrying cannot make it the right one.
      settle(
        err instanceof CertificateTrustError
          ? err
          : new TransportError(err.code ?? 'ERR_NETWORK', err.message, { cause: err }),
      ),
    );
    req.on('response', (res) => {
      responded = true;
      wakeWriter?.();
      const parts: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_REPLY_BYTES) parts.push(chunk);
      });
      res.on('error', (err: NodeJS.ErrnoException) =>
        settle(new TransportError(err.code ?? 'ERR_NETWORK', `reading the response: ${err.message}`)),
      );
      res.on('aborted', () => settle(new TransportError('ECONNRESET', 'the response was cut off')));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON (a proxy's error page): keep the text
        }
        settle(undefined, { status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });

    if (!opts.body) {
      req.end();
      return;
    }
    const body = opts.body;
    bodyReleased = (async () => {
      let sent = 0;
      try {
        for await (const chunk of body) {
          if (settled || responded) break;
          sent += chunk.length;
          if (!req.write(chunk)) {
            await new Promise<void>((wake) => {
              wakeWriter = wake;
              req.once('drain', wake);
            });
            req.removeListener('drain', wakeWriter!);
            wakeWriter = undefined;
          }
          opts.onChunkSent?.(sent);
        }
      } catch (err) {
        // Destroying the request makes the server roll back: a half-sent upload never commits.
        settle(new BodySourceError(err));
        return;
      }
      if (!settled && !responded) req.end();
    })();
  });
  return { reply, bodyReleased };
}

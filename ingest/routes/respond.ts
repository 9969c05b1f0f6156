// Writing responses: JSON with the contract's headers, error responses (counted by kind), and reading away
// what is left of a request body after an early answer.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IngestLimits } from '../config';
import type { HttpError } from '../errors';
import type { RouteContext } from './context';

export function sendJson(
  ctx: RouteContext,
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const closing = ctx.state.closing;
  const extra: Record<string, string> = closing ? { Connection: 'close' } : {};
  // An early answer (bad token, 503, bad row) while the client is still sending: keep the socket open so
  // drainBody can read the rest. Closing it now (as `Connection: close` from the client would) leaves
  // unread bytes in the kernel, which answers them with a reset that can destroy our response in flight.
  if (!res.req.complete && !closing) res.shouldKeepAlive = true;
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    ...extra,
    ...headers,
  });
  res.end(JSON.stringify(body));
}

/** An error response; counted in powerhouse_ingest_errors_total by its kind. */
export function sendError(ctx: RouteContext, res: ServerResponse, err: HttpError): void {
  ctx.metrics.errors.inc({ kind: err.kind });
  sendJson(ctx, res, err.status, err.body, err.headers);
}

/**
 * Reads and discards what is left of a request body after an early answer, so the client can finish
 * sending and read the response; bounded by maxBodyBytes and the idle timeout, past which the socket goes.
 */
export function drainBody(limits: IngestLimits, req: IncomingMessage): void {
  if (req.complete || req.destroyed) return;
  let bytes = 0;
  const timer = setTimeout(() => req.destroy(), limits.idleTimeoutMs);
  const stop = () => clearTimeout(timer);
  req.on('error', stop);
  req.on('end', stop);
  req.on('close', stop);
  // Once the response is done, Node no longer ties the request to its socket: watch the socket itself.
  req.socket.once('close', stop);
  req.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    timer.refresh();
    if (bytes > limits.maxBodyBytes) {
      stop();
      req.destroy();
    }
  });
  req.resume();
}

/** Resolves when the response has been sent or its connection has gone. */
export function responseDone(res: ServerResponse): Promise<void> {
  if (res.writableFinished || res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    res.once('finish', resolve);
    res.once('close', resolve);
  });
}

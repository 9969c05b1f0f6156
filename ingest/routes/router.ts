// Which handler answers a request (docs/INGEST-API.md, "Routes"), and what every request gets whatever its
// route: a JSON error for an HttpError (then the rest of the body read away), a 500 for anything else, one
// access-log line and one count in powerhouse_ingest_http_responses_total.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, httpErrors } from '../errors';
import { handleAdminPgBouncer } from './admin';
import type { Exchange, RequestInfo, RouteContext, RouteName } from './context';
import { handleHealth, handleMetrics, handleReady } from './health';
import { drainBody, responseDone, sendError } from './respond';
import { handleDescribe } from './tables';
import { handleUploadByKey, handleUploadStatus } from './upload-status';
import { handleUpload } from './uploads';

interface Route {
  readonly name: RouteName;
  /** POST routes answer any other method with 405 `Allow: POST`; GET routes also take HEAD. */
  readonly method: 'POST' | 'GET';
  readonly path: RegExp;
  readonly handle: (ctx: RouteContext, x: Exchange, param: string) => Promise<void> | void;
}

// Paths match exactly (no trailing slash) and no two routes match the same path.
const ROUTES: readonly Route[] = [
  { name: 'upload', method: 'POST', path: /^\/v1\/tables\/([^/]+)\/uploads$/, handle: handleUpload },
  { name: 'healthz', method: 'GET', path: /^\/healthz$/, handle: handleHealth },
  { name: 'readyz', method: 'GET', path: /^\/readyz$/, handle: handleReady },
  { name: 'metrics', method: 'GET', path: /^\/metrics$/, handle: handleMetrics },
  { name: 'describe', method: 'GET', path: /^\/v1\/tables\/([^/]+)$/, handle: handleDescribe },
  { name: 'upload_status', method: 'GET', path: /^\/v1\/uploads\/([^/]+)$/, handle: handleUploadStatus },
  { name: 'upload_lookup', method: 'GET', path: /^\/v1\/uploads$/, handle: handleUploadByKey },
  { name: 'admin_pgbouncer', method: 'GET', path: /^\/v1\/admin\/pgbouncer$/, handle: handleAdminPgBouncer },
];

async function dispatch(
  ctx: RouteContext,
  req: IncomingMessage,
  res: ServerResponse,
  info: RequestInfo,
): Promise<void> {
  req.on('error', () => undefined); // a client reset is handled where the body is read
  const x: Exchange = { req, res, url: new URL(req.url ?? '/', 'http://ingest.invalid'), info };
  const method = req.method ?? 'GET';
  try {
    let param = '';
    const route = ROUTES.find((r) => {
      const m = r.path.exec(x.url.pathname);
      if (m) param = m[1] ?? '';
      return m !== null;
    });
    info.route = route?.name ?? 'other';
    if (route?.method === 'POST') {
      if (method !== 'POST') throw httpErrors.methodNotAllowed('POST');
      return await route.handle(ctx, x, param);
    }
    // Before the path is matched: `POST /nope` is a 405, not a 404.
    if (method !== 'GET' && method !== 'HEAD') throw httpErrors.methodNotAllowed('GET');
    if (!route) throw httpErrors.notFound();
    return await route.handle(ctx, x, param);
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    sendError(ctx, x.res, err);
    drainBody(ctx.limits, x.req);
  }
}

/** The http server's request listener; adds each request's promise to `inflight` until it is done. */
export function requestListener(
  ctx: RouteContext,
  inflight: Set<Promise<void>>,
): (req: IncomingMessage, res: ServerResponse) => void {
  const { log, metrics } = ctx;
  return (req, res) => {
    const t0 = performance.now();
    const info: RequestInfo = { route: 'other' };
    const handled = dispatch(ctx, req, res, info)
      .catch((err) => {
        log.error({ err }, 'request handler failed');
        sendError(ctx, res, httpErrors.internal('internal error'));
      })
      .then(() => responseDone(res))
      .finally(() => {
        inflight.delete(handled);
        metrics.responses.inc({
          route: info.route,
          status: res.headersSent ? String(res.statusCode) : 'aborted',
        });
        log.info(
          {
            req: { method: req.method, url: req.url, headers: req.headers },
            uploadId: info.uploadId,
            status: res.statusCode,
            ms: Math.round(performance.now() - t0),
          },
          'request',
        );
      });
    inflight.add(handled);
  };
}

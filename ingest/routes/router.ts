// Which handler answers a request (docs/INGEST-API.md, "Routes"), and what every request gets whatever its
// route: a JSON error for an HttpError (then the rest of the body read away), a 500 for anything else, one
// access-log line and one count in powerhouse_ingest_http_responses_total.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, httpErrors } from '../errors';
import {
  handleAddToken,
  handleAdminPgBouncer,
  handleListTokens,
  handleListUploads,
  handleRevokeToken,
} from './admin';
import type { Exchange, RequestInfo, RouteContext, RouteName } from './context';
import {
  handleAdminStatus,
  handleDashboardPage,
  handleDashboardScript,
  handleDashboardStyles,
} from './dashboard';
import { handleHealth, handleMetrics, handleReady } from './health';
import { drainBody, responseDone, sendError } from './respond';
import { handleDescribe, handleWhoami } from './tables';
import { handleUploadByKey, handleUploadStatus } from './upload-status';
import { handleUpload } from './uploads';

interface Route {
  readonly name: RouteName;
  /** Another method on the path is a 405 with `Allow:` the path's methods; GET routes also take HEAD. */
  readonly method: 'POST' | 'GET';
  readonly path: RegExp;
  readonly handle: (ctx: RouteContext, x: Exchange, param: string) => Promise<void> | void;
}

// Paths match exactly (no trailing slash); two routes match the same path only with different methods.
const ROUTES: readonly Route[] = [
  { name: 'upload', method: 'POST', path: /^\/v1\/tables\/([^/]+)\/uploads$/, handle: handleUpload },
  { name: 'healthz', method: 'GET', path: /^\/healthz$/, handle: handleHealth },
  { name: 'readyz', method: 'GET', path: /^\/readyz$/, handle: handleReady },
  { name: 'metrics', method: 'GET', path: /^\/metrics$/, handle: handleMetrics },
  { name: 'describe', method: 'GET', path: /^\/v1\/tables\/([^/]+)$/, handle: handleDescribe },
  { name: 'upload_status', method: 'GET', path: /^\/v1\/uploads\/([^/]+)$/, handle: handleUploadStatus },
  { name: 'upload_lookup', method: 'GET', path: /^\/v1\/uploads$/, handle: handleUploadByKey },
  { name: 'whoami', method: 'GET', path: /^\/v1\/whoami$/, handle: handleWhoami },
  { name: 'admin_pgbouncer', method: 'GET', path: /^\/v1\/admin\/pgbouncer$/, handle: handleAdminPgBouncer },
  { name: 'admin_tokens', method: 'GET', path: /^\/v1\/admin\/tokens$/, handle: handleListTokens },
  { name: 'admin_token_add', method: 'POST', path: /^\/v1\/admin\/tokens$/, handle: handleAddToken },
  {
    name: 'admin_token_revoke',
    method: 'POST',
    path: /^\/v1\/admin\/tokens\/([^/]+)\/revoke$/,
    handle: handleRevokeToken,
  },
  { name: 'admin_uploads', method: 'GET', path: /^\/v1\/admin\/uploads$/, handle: handleListUploads },
  { name: 'admin_status', method: 'GET', path: /^\/v1\/admin\/status$/, handle: handleAdminStatus },
  { name: 'dashboard', method: 'GET', path: /^\/admin$/, handle: handleDashboardPage },
  { name: 'dashboard_asset', method: 'GET', path: /^\/admin\/dashboard\.js$/, handle: handleDashboardScript },
  {
    name: 'dashboard_asset',
    method: 'GET',
    path: /^\/admin\/dashboard\.css$/,
    handle: handleDashboardStyles,
  },
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
    const onPath = ROUTES.filter((r) => r.path.test(x.url.pathname));
    const asked = method === 'HEAD' ? 'GET' : method;
    const route = onPath.find((r) => r.method === asked);
    if (route) param = route.path.exec(x.url.pathname)![1] ?? '';
    info.route = (route ?? onPath[0])?.name ?? 'other';
    if (route) return await route.handle(ctx, x, param);
    // The path exists with other methods: 405 naming them. An unknown path answers only GET and HEAD with
    // 404 (`POST /nope` is a 405, as before the path is matched).
    if (onPath.length) throw httpErrors.methodNotAllowed(onPath.map((r) => r.method).join(', '));
    if (method !== 'GET' && method !== 'HEAD') throw httpErrors.methodNotAllowed('GET');
    throw httpErrors.notFound();
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

// GET /healthz, /readyz and /metrics: no auth.
import { withDeadline } from '../deadline';
import type { Exchange, RouteContext } from './context';
import { sendJson } from './respond';

const READY_TIMEOUT_MS = 5_000;

export function handleHealth(ctx: RouteContext, x: Exchange): void {
  sendJson(ctx, x.res, 200, { status: 'ok' });
}

export async function handleReady(ctx: RouteContext, x: Exchange): Promise<void> {
  if (ctx.state.closing)
    return sendJson(ctx, x.res, 503, { status: 'unavailable', message: 'shutting down' });
  const t0 = performance.now();
  try {
    // Saturated by uploads, PgBouncer queues the probe for up to query_wait_timeout: do not wait that long.
    await withDeadline(ctx.opsPool.query('SELECT 1'), READY_TIMEOUT_MS, () => {
      throw new Error(`no answer within ${READY_TIMEOUT_MS} ms`);
    });
    sendJson(ctx, x.res, 200, { status: 'ready', latencyMs: +(performance.now() - t0).toFixed(2) });
  } catch (err) {
    sendJson(
      ctx,
      x.res,
      503,
      {
        status: 'unavailable',
        message: `database: ${(err as Error).message}`,
        latencyMs: +(performance.now() - t0).toFixed(2),
      },
      { 'Retry-After': String(ctx.limits.retryAfterSeconds) },
    );
  }
}

export async function handleMetrics(ctx: RouteContext, x: Exchange): Promise<void> {
  const text = await ctx.metrics.registry.metrics();
  x.res.writeHead(200, { 'Content-Type': ctx.metrics.registry.contentType, 'Cache-Control': 'no-store' });
  x.res.end(text);
}

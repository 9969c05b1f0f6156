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
  const latency = () => +(performance.now() - t0).toFixed(2);
  const retry = { 'Retry-After': String(ctx.limits.retryAfterSeconds) };
  // Only with a backup section: a config without one answers exactly as before backups existed.
  const backup = () => (ctx.backup ? { backup: ctx.backup.report() } : {});
  try {
    // Saturated by uploads, PgBouncer queues the probe for up to query_wait_timeout: do not wait that long.
    await withDeadline(ctx.opsPool.query('SELECT 1'), READY_TIMEOUT_MS, () => {
      throw new Error(`no answer within ${READY_TIMEOUT_MS} ms`);
    });
  } catch (err) {
    const body = {
      status: 'unavailable',
      message: `database: ${(err as Error).message}`,
      latencyMs: latency(),
    };
    return sendJson(ctx, x.res, 503, { ...body, ...backup() }, retry);
  }
  const latencyMs = latency();
  const b = backup();
  // Uploads are refused while WAL waits at the disk margin: not ready. Every other backup state still takes uploads.
  if (b.backup?.status === 'refusing')
    return sendJson(
      ctx,
      x.res,
      503,
      { status: 'unavailable', message: `backup: ${b.backup.message}`, latencyMs, ...b },
      retry,
    );
  sendJson(ctx, x.res, 200, { status: 'ready', latencyMs, ...b });
}

export async function handleMetrics(ctx: RouteContext, x: Exchange): Promise<void> {
  const text = await ctx.metrics.registry.metrics();
  x.res.writeHead(200, { 'Content-Type': ctx.metrics.registry.contentType, 'Cache-Control': 'no-store' });
  x.res.end(text);
}

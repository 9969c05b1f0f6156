// GET /v1/admin/pgbouncer (admin token): PgBouncer's SHOW POOLS and SHOW STATS.
import { httpErrors } from '../errors';
import { pgbouncerSnapshot } from '../pgbouncer-admin';
import type { Exchange, RouteContext } from './context';
import { sendJson } from './respond';

export async function handleAdminPgBouncer(ctx: RouteContext, x: Exchange): Promise<void> {
  const { auth } = ctx.state;
  const authorization = x.req.headers.authorization;
  if (!auth.isAdmin(authorization)) {
    throw auth.authenticate(authorization) ? httpErrors.forbidden() : httpErrors.unauthorized();
  }
  const retryAfter = ctx.limits.retryAfterSeconds;
  if (!ctx.config.pgbouncerAdminUrl)
    throw httpErrors.unavailable('pgbouncerAdminUrl is not configured', retryAfter);
  try {
    sendJson(ctx, x.res, 200, await pgbouncerSnapshot(ctx.config.pgbouncerAdminUrl));
  } catch (err) {
    ctx.log.warn({ err }, 'PgBouncer admin console query failed');
    throw httpErrors.unavailable(`PgBouncer admin console: ${(err as Error).message}`, retryAfter);
  }
}

// Database work a route does on the ops pool, bounded like an upload's wait for a server connection: no answer
// in time, or no database, is a 503 with Retry-After, never a hung request.
import { withDeadline } from '../deadline';
import { DatabaseWaitError, httpErrors, isConnectionError } from '../errors';
import type { RouteContext } from './context';

export async function bounded<T>(ctx: RouteContext, work: Promise<T>): Promise<T> {
  const waitMs = ctx.serverWaitMs;
  try {
    return await withDeadline(work, waitMs, () => {
      throw new DatabaseWaitError(`no database answer within ${waitMs} ms`);
    });
  } catch (err) {
    if (isConnectionError(err))
      throw httpErrors.unavailable(
        `database unavailable: ${(err as Error).message}`,
        ctx.limits.retryAfterSeconds,
      );
    throw err;
  }
}

/** One query on the ops pool, bounded. */
export async function dbQuery<R extends object>(
  ctx: RouteContext,
  sql: string,
  params: unknown[],
): Promise<R[]> {
  return (await bounded(ctx, ctx.opsPool.query(sql, params))).rows as R[];
}

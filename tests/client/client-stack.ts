// The local stack of the reliability tests (PostgreSQL 16 + PgBouncer + the ingest worker, 8 uploaders) for the
// client SDK and CLI tests, and what was stored.
import { startLiveStack, type LiveStack } from '../reliability/live-stack';

export { TM_COLUMNS, uniqueTmRows } from './test-rows';

export type ClientStack = LiveStack;

export function startClientStack(worker: 'in-process' | 'child'): Promise<ClientStack> {
  return startLiveStack({ users: 8, worker, logLevel: 'warn' });
}

export async function tmCounts(s: ClientStack): Promise<{ rows: number; distinct: number }> {
  const [r] = await s.sql<{ rows: string; distinct: string }>(
    'SELECT count(*) AS rows, count(DISTINCT (tm_id, source)) AS distinct FROM tm_entries',
  );
  return { rows: Number(r.rows), distinct: Number(r.distinct) };
}

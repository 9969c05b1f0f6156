// A real local stack (PostgreSQL 16 + PgBouncer + the ingest worker, from startLocalStack with a small tier)
// for the client SDK and CLI tests, and SQL as the superuser to look at what was stored.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { startLocalStack, type LocalStack } from '../../cli/local/stack';
import { customTier } from '../../config-templates';

export { TM_COLUMNS, uniqueTmRows } from './test-rows';

export interface ClientStack {
  readonly stack: LocalStack;
  readonly url: string;
  readonly token: string;
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

export async function startClientStack(worker: 'in-process' | 'child'): Promise<ClientStack> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-client-'));
  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      dataDir,
      tier: customTier({ cores: 2, ramMiB: 4096, disk: 'nvme' }, 8, 'detect'),
      ingestPort: 0,
      bouncerPort: 0,
      worker,
      logLevel: 'warn',
    });
  } catch (err) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  if (!stack.bouncer) throw new Error('PgBouncer is not installed: apt-get install -y pgbouncer');
  const sql = async <T>(text: string, params: unknown[] = []): Promise<T[]> => {
    const c = new Client({ connectionString: stack.superuserUrl });
    await c.connect();
    try {
      return (await c.query(text, params)).rows as T[];
    } finally {
      await c.end();
    }
  };
  return {
    stack,
    get url() {
      return stack.ingestUrl;
    },
    token: stack.token,
    sql,
    stop: async () => {
      try {
        await stack.stop();
      } finally {
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

export async function tmCounts(s: ClientStack): Promise<{ rows: number; distinct: number }> {
  const [r] = await s.sql<{ rows: string; distinct: string }>(
    'SELECT count(*) AS rows, count(DISTINCT (tm_id, source)) AS distinct FROM tm_entries',
  );
  return { rows: Number(r.rows), distinct: Number(r.distinct) };
}

// The drill's view of the product: the local stack with a pgBackRest repository, uploads through the worker,
// and the `powerhouse` backup commands run as a user runs them (a child process, its exit code and output).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { Client } from 'pg';
import { DATABASE } from '../../config-templates';
import type { LocalStack } from '../../stacks/local-processes/stack';

const CLI = path.join(__dirname, '../../cli/main.ts');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `powerhouse ARGS… --profile PROFILE`, as a separate process. */
export function powerhouse(profile: string, args: string[], timeoutMs = 300_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', CLI, ...args, '--profile', profile],
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** One NDJSON upload of `rows` rows tagged tm_id = `tag` into tm_entries; returns the HTTP status. */
export async function uploadTagged(stack: LocalStack, tag: number, rows: number): Promise<number> {
  const body =
    Array.from({ length: rows }, (_, i) =>
      JSON.stringify({
        tm_id: tag,
        source: `upload ${tag} row ${i}`,
        target: `Zeile ${i} — ü`,
        created_by: 'drill',
      }),
    ).join('\n') + '\n';
  const res = await fetch(`${stack.ingestUrl}/v1/tables/tm_entries/uploads`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${stack.token}`,
      'content-type': 'application/x-ndjson',
      'idempotency-key': `drill-${tag}-${Date.now()}`,
    },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

/** Rows per tag and a checksum of their content, in the database at `url`. */
export async function tagCounts(url: string): Promise<Map<number, { rows: number; digest: string }>> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ tm_id: string; rows: string; digest: string }>(
      `SELECT tm_id, count(*) AS rows, md5(string_agg(source || '|' || target, ',' ORDER BY id)) AS digest
         FROM public.tm_entries GROUP BY tm_id ORDER BY tm_id`,
    );
    return new Map(r.rows.map((x) => [Number(x.tm_id), { rows: Number(x.rows), digest: x.digest }]));
  } finally {
    await c.end();
  }
}

/** The superuser URL of the stack's database on another port (a restored copy has the same passwords). */
export function urlOnPort(stack: LocalStack, port: number): string {
  const u = new URL(stack.superuserUrl);
  u.port = String(port);
  u.pathname = `/${DATABASE}`;
  return u.toString();
}

/** Forces the current WAL segment out and waits until the archiver has taken it (what archive_timeout does). */
export async function archiveNow(superuserUrl: string, timeoutMs = 60_000): Promise<string> {
  const c = new Client({ connectionString: superuserUrl });
  await c.connect();
  try {
    const seg = (await c.query<{ f: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS f')).rows[0].f;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const a = (await c.query<{ w: string | null }>('SELECT last_archived_wal AS w FROM pg_stat_archiver'))
        .rows[0].w;
      if (a !== null && a.slice(0, 24) >= seg) return seg;
      if (Date.now() > deadline)
        throw new Error(`WAL ${seg} not archived within ${timeoutMs} ms (last: ${a})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await c.end();
  }
}

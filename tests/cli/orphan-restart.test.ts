// `powerhouse up` survives its own death: killed with SIGKILL (the OOM killer, a closed terminal) it leaves
// PostgreSQL and PgBouncer running, and the next start on the same data dir stops them cleanly, says so, and
// comes up with every acknowledged upload stored exactly once. Ctrl-C then stops everything it started. A
// start that is still alive is never taken over.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';

import { DATABASE } from '../../config-templates';
import type { LocalSecrets } from '../../stacks/local-processes/stack';
import {
  descendants,
  isLive,
  killTree,
  procStat,
  waitTreeGone,
} from '../../stacks/local-processes/supervised-child';
import { field, up, type Up } from './up-process';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-orphan-'));

// Everything this file starts, by pid and start time (so clean-up never signals a pid reused by another
// program): killed after the tests, pass or fail.
const started = new Map<number, string>();
function track(pid: number | undefined): void {
  const startTime = pid ? procStat(pid)?.[19] : undefined;
  if (pid && startTime) started.set(pid, startTime);
}
const stillOurs = (pid: number) => isLive(pid) && procStat(pid)?.[19] === started.get(pid);

afterAll(async () => {
  // Start processes first (their servers then cannot be restarted by them), then the servers' trees.
  for (const [pid] of started)
    if (stillOurs(pid)) await waitTreeGone(0, [pid, ...killTree(pid)], 10_000, 'test');
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const startUp = () =>
  up({
    dataDir,
    launcher: 'tsx',
    detached: true, // its own process group, as a terminal job: Ctrl-C below goes to the whole group
    onSpawn: (child: ChildProcess) => track(child.pid),
  });

/** Banner pid of `label` ("PostgreSQL 16", "PgBouncer"). */
function bannerPid(out: string, label: string): number {
  const pid = Number(new RegExp(`^${label}\\s+\\S+\\s+\\(pid (\\d+)`, 'm').exec(out)?.[1]);
  expect(pid).toBeGreaterThan(0);
  return pid;
}

const cmdline = (pid: number) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
const ROWS_PER_UPLOAD = 50;
const csv = (key: string) =>
  'tm_id,source,target\n' +
  Array.from({ length: ROWS_PER_UPLOAD }, (_, i) => `1,${key}-${i},target ${i}\n`).join('');

async function upload(endpoint: string, token: string, key: string): Promise<number> {
  const res = await fetch(`${endpoint}/v1/tables/tm_entries/uploads`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/csv', 'Idempotency-Key': key },
    body: csv(key),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Rows stored per upload key, read as the superuser (password from DATA_DIR/secrets.json). */
async function rowsByKey(pgPort: number): Promise<Map<string, { rows: number; distinct: number }>> {
  const secrets = JSON.parse(fs.readFileSync(path.join(dataDir, 'secrets.json'), 'utf8')) as LocalSecrets;
  const c = new Client({
    host: '127.0.0.1',
    port: pgPort,
    user: 'postgres',
    password: secrets.secrets.superuser_password,
    database: DATABASE,
  });
  await c.connect();
  try {
    const r = await c.query<{ key: string; rows: number; distinct: number }>(
      `SELECT split_part(source, '-', 1) AS key, count(*)::int AS rows, count(DISTINCT source)::int AS distinct
         FROM tm_entries WHERE source LIKE 'k%-%' GROUP BY 1`,
    );
    return new Map(r.rows.map((x) => [x.key, { rows: x.rows, distinct: x.distinct }]));
  } finally {
    await c.end();
  }
}

/** Ctrl-C as a terminal sends it: SIGINT to every process of the foreground group. */
async function ctrlC(u: Up): Promise<number | null> {
  process.kill(-u.child.pid!, 'SIGINT');
  return u.exited;
}

const gone = (pid: number) => !isLive(pid); // a zombie no one reaps (pid 1 in some containers) is gone too

it('a start killed with SIGKILL leaves its servers running; the next start stops them and keeps every acknowledged upload exactly once', async () => {
  const first = await startUp();
  const out1 = first.output();
  const endpoint1 = field(out1, 'ingest worker');
  const token = field(out1, 'token');
  const oldPg = bannerPid(out1, 'PostgreSQL 16');
  const oldBouncer = bannerPid(out1, 'PgBouncer');
  [oldPg, oldBouncer].forEach(track);

  // Uploads in two streams, still running when the start process is killed: some are acknowledged, one per
  // stream is cut off mid-request.
  const acked: string[] = [];
  const attempted: string[] = [];
  let n = 0;
  let killed = false;
  const stream = async () => {
    while (!killed) {
      const key = `k${n++}`;
      attempted.push(key);
      const status = await upload(endpoint1, token, key).catch(() => 0);
      if (status === 201) acked.push(key);
      else if (status !== 0 && status !== 201) throw new Error(`upload ${key} answered ${status}`);
    }
  };
  const streams = [stream(), stream()];
  while (acked.length < 6) await new Promise((r) => setTimeout(r, 20));
  const oldBackends = descendants(oldPg);
  oldBackends.forEach(track);
  killed = true;
  process.kill(first.child.pid!, 'SIGKILL');
  expect(await first.exited).toBeNull(); // killed by a signal
  await Promise.all(streams);

  // What the bug report describes: the servers outlive the start that owned them.
  expect(isLive(oldPg) && cmdline(oldPg)).toContain(`-D ${path.join(dataDir, 'postgres')}`);
  expect(isLive(oldBouncer) && cmdline(oldBouncer)).toContain(
    path.join(dataDir, 'pgbouncer', 'pgbouncer.ini'),
  );

  const second = await startUp();
  const out2 = second.output();
  expect(out2).toContain(`found PostgreSQL (pid ${oldPg}) left running by an earlier start: stopping it`);
  expect(out2).toContain(`found PgBouncer (pid ${oldBouncer}) left running by an earlier start: stopping it`);
  expect(out2).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m); // no stack trace
  expect(out2).not.toMatch(/error/i);
  for (const pid of [oldPg, oldBouncer, ...oldBackends]) expect(gone(pid)).toBe(true);
  expect(field(out2, 'token')).toBe(token);
  const newPg = bannerPid(out2, 'PostgreSQL 16');
  const newBouncer = bannerPid(out2, 'PgBouncer');
  [newPg, newBouncer].forEach(track);

  // Every acknowledged upload is there once; one cut off is there completely or not at all, and sending it
  // again under its key stores it (201) or answers that it is stored already (200): never twice.
  const pgPort = Number(/^PostgreSQL 16\s+127\.0\.0\.1:(\d+)/m.exec(out2)?.[1]);
  const before = await rowsByKey(pgPort);
  for (const key of acked)
    expect(before.get(key)).toEqual({ rows: ROWS_PER_UPLOAD, distinct: ROWS_PER_UPLOAD });
  const endpoint2 = field(out2, 'ingest worker');
  for (const key of attempted) {
    expect([undefined, ROWS_PER_UPLOAD]).toContain(before.get(key)?.rows);
    expect([200, 201]).toContain(await upload(endpoint2, token, key));
  }
  const after = await rowsByKey(pgPort);
  for (const key of attempted)
    expect(after.get(key)).toEqual({ rows: ROWS_PER_UPLOAD, distinct: ROWS_PER_UPLOAD });
  expect(await upload(endpoint2, token, acked[0])).toBe(200); // a replay, not a second copy

  // Ctrl-C stops everything this start started.
  const newTree = [newPg, newBouncer, ...descendants(newPg)];
  newTree.forEach(track);
  expect(await ctrlC(second)).toBe(0);
  expect(second.output().trimEnd()).toMatch(/stopped\.$/);
  for (const pid of newTree) expect(gone(pid)).toBe(true);
}, 180_000);

it('a second start on a data dir whose start is still running refuses in one line and leaves it running', async () => {
  const first = await startUp();
  const refusal = await startUp().then(
    () => '',
    (err: Error) => err.message,
  );
  expect(refusal).toMatch(
    new RegExp(
      `^powerhouse up: .* belongs to a start that is still running \\(pid ${first.child.pid}\\)`,
      'm',
    ),
  );
  expect(refusal).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect((await fetch(`${field(first.output(), 'ingest worker')}/healthz`)).status).toBe(200);
  expect(await ctrlC(first)).toBe(0);
}, 120_000);

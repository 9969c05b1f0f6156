// `powerhouse up` (what `npm start` runs) as a newcomer meets it: a child process that prints an endpoint,
// a token and a curl example that works, keeps its data across restarts, and stops cleanly on Ctrl-C.
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { field, up as startUp, type Up } from './up-process';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-up-'));
// A failed assertion must not leave a start running: each one is stopped as Ctrl-C would (its own stop).
const started: ChildProcess[] = [];
afterAll(async () => {
  for (const c of started)
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGINT');
      await new Promise((r) => c.once('exit', r));
    }
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const up = (env: Record<string, string> = {}, args: string[] = [], bouncerPortArgs?: string[]) =>
  startUp({ dataDir, env, args, bouncerPortArgs, onSpawn: (c) => started.push(c) });

async function stop(u: Up): Promise<void> {
  u.child.kill('SIGINT');
  expect(await u.exited).toBe(0);
  expect(u.output()).toMatch(/stopped\./);
}

describe('powerhouse up', () => {
  it('starts the stack, the printed curl example stores rows, Ctrl-C stops everything, data survives a restart', async () => {
    const first = await up();
    const out = first.output();
    const endpoint = field(out, 'ingest worker');
    const token = field(out, 'token');
    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect(out).toMatch(/^PgBouncer\s+127\.0\.0\.1:\d+/m);
    expect(out).toContain(`curl -sS -X POST ${endpoint}/v1/tables/tm_entries/uploads`);

    // What the printed example sends, sent the same way.
    const res = await fetch(`${endpoint}/v1/tables/tm_entries/uploads`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/csv', 'Idempotency-Key': 'first' },
      body: 'tm_id,source,target\n1,Hello,Hallo\n1,World,Welt\n',
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ table: 'tm_entries', rows: 2 });

    // The printed app DSN goes through PgBouncer and sees the rows.
    const app = new Client({ connectionString: field(out, 'app DSN') });
    await app.connect();
    expect((await app.query('SELECT count(*)::int AS n FROM tm_entries')).rows).toEqual([{ n: 2 }]);
    // … and cannot change the schema.
    await expect(app.query('TRUNCATE tm_entries')).rejects.toThrow(/permission denied/);
    await app.end();
    // The README's line, with the real psql, as pasted.
    const psqlOut = execFileSync('psql', [field(out, 'app DSN'), '-Atc', 'select count(*) from tm_entries'], {
      encoding: 'utf8',
    });
    expect(psqlOut.trim()).toBe('2');

    const pids = [...out.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(3); // PostgreSQL, PgBouncer, the worker (this process)
    await stop(first);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();

    // Second start: same data dir, same token, rows still there, replay of the same key answers 200.
    const second = await up();
    expect(field(second.output(), 'token')).toBe(token);
    const replay = await fetch(`${field(second.output(), 'ingest worker')}/v1/tables/tm_entries/uploads`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/csv', 'Idempotency-Key': 'first' },
      body: 'tm_id,source,target\n1,Hello,Hallo\n1,World,Welt\n',
    });
    expect(replay.status).toBe(200);
    expect(await replay.json()).toMatchObject({ rows: 2, replayed: true });
    await stop(second);
  }, 180_000);

  it('uses POWERHOUSE_INGEST_TOKEN when set and never prints it; without PgBouncer it says so', async () => {
    const token = 'env-token-' + 'x'.repeat(30);
    const u = await up({ POWERHOUSE_INGEST_TOKEN: token }, ['--no-pgbouncer']);
    expect(u.output()).toMatch(/connect to PostgreSQL directly/);
    expect(u.output()).toMatch(/→ PostgreSQL directly/);
    expect(u.output()).not.toMatch(/^PgBouncer/m);
    expect(u.output()).toContain('(from POWERHOUSE_INGEST_TOKEN)');
    expect(u.output()).not.toContain(token);
    const res = await fetch(`${field(u.output(), 'ingest worker')}/v1/tables/tm_entries/uploads`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/tab-separated-values' },
      body: 'tm_id\tsource\ttarget\n7\ta\tb\n',
    });
    expect(res.status).toBe(201);
    await stop(u);
  }, 120_000);
});

it('uses a free PgBouncer port when 6432 is taken (a system PgBouncer), and says so', async () => {
  const holder = net.createServer();
  const held = await new Promise<boolean>((resolve) => {
    holder.once('error', () => resolve(false)); // already taken by something else: same situation
    holder.listen(6432, '127.0.0.1', () => resolve(true));
  });
  try {
    const u = await up({}, [], []);
    expect(u.output()).toMatch(/port 6432 is taken/);
    const bouncerPort = Number(/^PgBouncer\s+127\.0\.0\.1:(\d+)/m.exec(u.output())?.[1]);
    expect(bouncerPort).toBeGreaterThan(0);
    expect(bouncerPort).not.toBe(6432);
    await stop(u);
  } finally {
    if (held) holder.close();
  }
}, 120_000);

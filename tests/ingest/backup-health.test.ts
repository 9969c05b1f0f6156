// Backup health in /readyz and /metrics, and uploads refused (503 wal_archive_backlog) before un-archived WAL
// fills the disk: real PostgreSQL 16 archiving WAL with a real shell archive_command (blocked by a file, as an
// unreachable repository blocks pgBackRest's archive-push), PgBouncer, workers in-process polling every second.
import fs from 'node:fs';
import path from 'node:path';
import { makeTestDir, stopAllTestServers } from '../harness';
import { parseLsn, walSegmentEndLsn } from '../../ingest/backup-health';
import type { IngestServer } from '../../ingest/server';
import {
  eventually,
  request,
  scrapeMetrics,
  startIngestStack,
  upload,
  type HttpResult,
  type IngestStack,
} from './stack';

const SEGMENT = 16 * 1024 * 1024;
const MARGIN = 3 * SEGMENT;

let stack: IngestStack;
let dir: string;
let archiveDir: string;
let blocked: string;

beforeAll(async () => {
  dir = makeTestDir('powerhouse-wal-').dir;
  archiveDir = path.join(dir, 'archive');
  blocked = path.join(dir, 'blocked');
  const { uid, gid } = fs.statSync(dir);
  fs.mkdirSync(archiveDir);
  fs.chownSync(archiveDir, uid, gid);
  stack = await startIngestStack({
    conf: `archive_mode = on\narchive_command = 'test ! -e ${blocked} && cp %p ${archiveDir}/%f'\n`,
  });
  await stack.sql('CREATE TABLE wal_filler (x int)');
}, 60_000);

afterAll(stopAllTestServers);

const workers: IngestServer[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.close()));
});

/** A worker polling every second, closed after the test; `backup` overrides the section (null: none). */
async function worker(backup: Record<string, unknown> | null, closeAfterTest = true): Promise<IngestServer> {
  const section = backup && { enabled: true, walMarginBytes: MARGIN, pollSeconds: 1, ...backup };
  const w = await stack.startWorker({ ...(section ? { backup: section } : {}), limits: { dbPoolSize: 2 } });
  if (closeAfterTest) workers.push(w);
  return w;
}

const readyz = (w: IngestServer) => request(w.url, '/readyz', { method: 'GET' });
const backupOf = (r: HttpResult) => r.body.backup as Record<string, unknown>;

/** Polls /readyz until `check` holds (the worker re-reads every second), with a deadline. */
async function readyzUntil(
  w: IngestServer,
  check: (r: HttpResult) => boolean,
  ms = 20_000,
): Promise<HttpResult> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await readyz(w);
    if (check(r)) return r;
    if (Date.now() > deadline) throw new Error(`/readyz did not reach the state within ${ms} ms: ${r.text}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}
const inState = (status: string) => (r: HttpResult) => backupOf(r)?.status === status;

const metrics = (w: IngestServer) => scrapeMetrics(w.url);

const HOUR_AGO = new Date(Date.now() - 3_600_000).toISOString();

function statusJson(over: Record<string, unknown> = {}) {
  return {
    version: 1,
    checkedAt: new Date().toISOString(),
    stanza: 'powerhouse',
    repository: 'posix:/var/lib/pgbackrest',
    reachable: true,
    error: null,
    lastGood: {
      label: '20261201-120000F',
      type: 'full',
      startedAt: new Date(Date.parse(HOUR_AGO) - 300_000).toISOString(),
      stoppedAt: HOUR_AGO,
      sizeBytes: 30_000_000,
      repoSizeBytes: 4_000_000,
      walStart: '000000010000000000000002',
      walStop: '000000010000000000000002',
    },
    backupCount: 1,
    walMin: '000000010000000000000002',
    walMax: '000000010000000000000002',
    backupRunning: false,
    ...over,
  };
}

/** As the probe writes it: whole, then renamed, so the worker never reads half a file. */
function writeStatus(file: string, content: unknown): void {
  fs.writeFileSync(file + '.tmp', typeof content === 'string' ? content : JSON.stringify(content));
  fs.renameSync(file + '.tmp', file);
}

/** Ends the current WAL segment (something written first: an empty segment is not switched). */
async function switchWal(): Promise<void> {
  await stack.sql('INSERT INTO wal_filler VALUES (1); SELECT pg_switch_wal()');
}

const rowsOf = (fileId: number, n: number) =>
  Array.from(
    { length: n },
    (_, i) => JSON.stringify({ file_id: fileId, row_num: i + 1, source: `s${i}` }) + '\n',
  ).join('');
const storedRows = (fileId: number) =>
  stack.sql(
    'SELECT id, file_id, row_num, source, target, created_at FROM file_rows WHERE file_id = $1 ORDER BY id',
    [fileId],
  );

it('computes the archived position as PostgreSQL names its WAL files', async () => {
  const lsns = [
    '0/1',
    '0/FFFFFF',
    '0/1000000',
    '0/1000001',
    '1/0',
    '16/B374D848',
    'FF/FF000000',
    'FFFF/FFFFFFFF',
  ];
  const rows = await stack.sql<{ lsn: string; name: string }>(
    'SELECT l AS lsn, pg_walfile_name(l::pg_lsn) AS name FROM unnest($1::text[]) AS l',
    [lsns],
  );
  for (const { lsn, name } of rows) {
    // pg_walfile_name gives the segment holding the byte before the LSN: its end is at or after it.
    const end = walSegmentEndLsn(name, BigInt(SEGMENT))!;
    const at = parseLsn(lsn)!;
    expect([lsn, end >= at && end - BigInt(SEGMENT) < at]).toEqual([lsn, true]);
  }
});

describe('WAL archiving stalls and comes back', () => {
  // One worker through the three steps.
  let w: IngestServer | undefined;
  let statusFile: string;
  let before: Record<string, unknown>[];

  beforeAll(async () => {
    statusFile = path.join(dir, 'status.json');
    writeStatus(statusFile, statusJson());
    // Something archived, so the worker knows where the archive stands.
    await switchWal();
    await eventually(() => (fs.readdirSync(archiveDir).length > 0 ? true : undefined), 1000);
  });
  afterAll(() => w?.close());

  it('healthy: /readyz 200 with the last good backup, /metrics with its time and the lag', async () => {
    w = await worker({ statusFile }, false);
    const r = await readyzUntil(
      w,
      (x) => inState('ok')(x) && (backupOf(x).archiveLagBytes as number) < SEGMENT,
    );
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('ready');
    expect(backupOf(r)).toMatchObject({
      status: 'ok',
      lastGoodBackupAt: HOUR_AGO,
      walMarginBytes: MARGIN,
      archiveFailing: false,
      lastFailedAt: null,
      repository: 'posix:/var/lib/pgbackrest',
    });
    expect(backupOf(r).message).toMatch(
      /^last good backup 20261201-120000F \(full\) .* in posix:\/var\/lib\/pgbackrest; WAL archive lag /,
    );
    expect(backupOf(r).lastGoodBackupAgeSeconds).toBeGreaterThan(0);
    expect(Date.parse(backupOf(r).lastArchivedAt as string)).toBeGreaterThan(0);

    const m = await metrics(w);
    expect(m.get('powerhouse_backup_last_good_timestamp_seconds')).toBe(Date.parse(HOUR_AGO) / 1000);
    expect(m.get('powerhouse_backup_status{status="ok"}')).toBe(1);
    expect(m.get('powerhouse_backup_status{status="refusing"}')).toBe(0);
    expect(m.get('powerhouse_wal_archive_failing')).toBe(0);
    expect(m.get('powerhouse_wal_archive_margin_bytes')).toBe(MARGIN);
    expect(m.get('powerhouse_wal_archive_lag_bytes')).toBeLessThan(SEGMENT);
    expect(m.get('powerhouse_backup_status_age_seconds')).toBeLessThan(60);

    expect((await upload(w.url, 'file_rows', 'ndjson', rowsOf(900, 50), { key: 'wal-before' })).status).toBe(
      201,
    );
    before = await storedRows(900);
    expect(before).toHaveLength(50);
  });

  it('archive blocked: failing within a poll, uploads go on while the lag grows, then 503 wal_archive_backlog at the margin', async () => {
    if (!w) throw new Error('no worker: the healthy step failed');
    fs.writeFileSync(blocked, '');
    await switchWal();
    const failing = await readyzUntil(w, inState('failing'));
    expect(failing.status).toBe(200); // uploads still work
    expect(backupOf(failing)).toMatchObject({ archiveFailing: true });
    expect(backupOf(failing).lastFailedAt).not.toBeNull();
    expect(backupOf(failing).message).toMatch(
      /^WAL archiving is failing \(archive_command: \d+ failed attempts?, the last for [0-9A-F]{24} at /,
    );
    const lag1 = backupOf(failing).archiveLagBytes as number;
    expect(lag1).toBeGreaterThanOrEqual(SEGMENT);

    // Under the margin uploads are taken (lag < 2 segments here).
    expect((await upload(w.url, 'file_rows', 'ndjson', rowsOf(901, 20), { key: 'wal-during' })).status).toBe(
      201,
    );
    await switchWal();
    await switchWal();
    await switchWal();
    const refusing = await readyzUntil(w, inState('refusing'));
    expect(refusing.status).toBe(503);
    expect(refusing.headers['retry-after']).toBe(String(stack.settings.ingest.retryAfterSeconds.value));
    expect(refusing.body.status).toBe('unavailable');
    expect(refusing.body.message).toMatch(/^backup: uploads paused: /);
    expect(backupOf(refusing).archiveLagBytes).toBeGreaterThanOrEqual(MARGIN);
    expect(backupOf(refusing).archiveLagBytes).toBeGreaterThan(lag1);

    const refused = await upload(w.url, 'file_rows', 'ndjson', rowsOf(902, 20), { key: 'wal-refused' });
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe(String(stack.settings.ingest.retryAfterSeconds.value));
    expect(refused.body).toMatchObject({ error: 'wal_archive_backlog', walMarginBytes: MARGIN });
    expect(refused.body.archiveLagBytes).toBeGreaterThanOrEqual(MARGIN);
    expect(refused.body.message).toMatch(
      /^uploads paused: \d+\.\d MiB of WAL wait to be archived \(limit 48\.0 MiB\) because the backup repository is not taking them \(archive_command: \d+ failed attempts?, the last for [0-9A-F]{24} at [^)]+\); uploads resume once the archive catches up$/,
    );

    // Nothing already stored is touched, nothing of the refused upload is.
    expect(await storedRows(900)).toEqual(before);
    expect(await storedRows(901)).toHaveLength(20);
    expect(await storedRows(902)).toHaveLength(0);
    const m = await metrics(w);
    expect(m.get('powerhouse_backup_status{status="refusing"}')).toBe(1);
    expect(m.get('powerhouse_backup_status{status="ok"}')).toBe(0);
    expect(m.get('powerhouse_wal_archive_failing')).toBe(1);
    expect(m.get('powerhouse_wal_archive_lag_bytes')).toBeGreaterThanOrEqual(MARGIN);
    expect(m.get('powerhouse_ingest_errors_total{kind="wal_archive_backlog"}')).toBe(1);
    expect(m.get('powerhouse_ingest_uploads_total{table="file_rows",status="503"}')).toBe(1);
  });

  it('archive back: PostgreSQL archives the backlog, uploads are taken again, lag back under a segment', async () => {
    if (!w) throw new Error('no worker: the healthy step failed');
    const waiting = fs.readdirSync(path.join(stack.pg.dataDir, 'pg_wal', 'archive_status'));
    expect(waiting.filter((f) => f.endsWith('.ready')).length).toBeGreaterThanOrEqual(3);
    fs.rmSync(blocked);
    // After three failed attempts the archiver sleeps up to 60 s; a newly finished segment wakes it.
    const t0 = Date.now();
    await switchWal();
    // The deadline covers the archiver's own 60 s retry, should the nudge come while it is not waiting.
    const ok = await readyzUntil(
      w,
      (r) => inState('ok')(r) && (backupOf(r).archiveLagBytes as number) < SEGMENT,
      75_000,
    );
    process.stdout.write(`archive caught up ${Date.now() - t0} ms after the nudge\n`);
    expect(ok.status).toBe(200);
    expect(backupOf(ok).archiveFailing).toBe(false);
    const again = await upload(w.url, 'file_rows', 'ndjson', rowsOf(902, 20), { key: 'wal-refused' });
    expect(again.status).toBe(201);
    expect(await storedRows(902)).toHaveLength(20);
    expect(await storedRows(900)).toEqual(before);
    // Every segment that waited is in the archive now.
    const ready = fs.readdirSync(path.join(stack.pg.dataDir, 'pg_wal', 'archive_status'));
    expect(ready.filter((f) => f.endsWith('.ready'))).toEqual([]);
    for (const f of waiting.filter((x) => x.endsWith('.ready')))
      expect(fs.existsSync(path.join(archiveDir, f.replace(/\.ready$/, '')))).toBe(true);
  }, 90_000);
});

describe('the status file', () => {
  it('missing, invalid JSON, invalid content, old, repository unreachable, no backup: each said, uploads still taken', async () => {
    const file = path.join(dir, 'status-d.json');
    const w = await worker({ statusFile: file, statusMaxAgeSeconds: 180 });
    const cases: [string, () => void, string, RegExp][] = [
      [
        'missing',
        () => undefined,
        'stale',
        /^backup health unknown: backup status file .*status-d\.json does not exist; check the backup-status probe/,
      ],
      ['not JSON', () => writeStatus(file, '{"version": 1,'), 'stale', /is not a valid status \(not JSON\)/],
      [
        'another version',
        () => writeStatus(file, statusJson({ version: 2 })),
        'stale',
        /is not a valid status \(version: /,
      ],
      [
        'old',
        () => writeStatus(file, statusJson({ checkedAt: new Date(Date.now() - 600_000).toISOString() })),
        'stale',
        /^the backup status is 6\d\d s old \(limit 180 s, .*has stopped; check its timer$/,
      ],
      [
        'unreachable',
        () => writeStatus(file, statusJson({ reachable: false, error: 'repo1: unable to open path' })),
        'failing',
        /^the backup repository posix:\/var\/lib\/pgbackrest is unreachable: repo1: unable to open path; check /,
      ],
      [
        'no backup',
        () => writeStatus(file, statusJson({ lastGood: null, backupCount: 0 })),
        'no_backup',
        /^no complete backup in posix:\/var\/lib\/pgbackrest yet: a restore needs one; run powerhouse backup$/,
      ],
      ['good', () => writeStatus(file, statusJson()), 'ok', /^last good backup /],
    ];
    for (const [name, act, status, message] of cases) {
      act();
      // Consecutive cases can share a state: wait for this one's message.
      const r = await readyzUntil(
        w,
        (x) => inState(status)(x) && message.test(backupOf(x).message as string),
      );
      expect([name, r.status, backupOf(r).status]).toEqual([name, 200, status]);
      expect([name, backupOf(r).message]).toEqual([name, expect.stringMatching(message)]);
      const m = await metrics(w);
      expect([name, m.get(`powerhouse_backup_status{status="${status}"}`)]).toEqual([name, 1]);
      const up = await upload(w.url, 'file_rows', 'ndjson', rowsOf(910, 1));
      expect([name, up.status]).toEqual([name, 201]);
    }
    // An old status still shows what it said last.
    writeStatus(file, statusJson({ checkedAt: new Date(Date.now() - 600_000).toISOString() }));
    const old = await readyzUntil(w, inState('stale'));
    expect(backupOf(old).lastGoodBackupAt).toBe(HOUR_AGO);
    expect(backupOf(old).statusAgeSeconds).toBeGreaterThanOrEqual(600);
  });
});

it('backups off: /readyz 200 says this deployment keeps none, and why', async () => {
  const reason = 'no backup repository configured: set backup_repository';
  const w = await worker({ enabled: false, reason });
  const r = await readyz(w);
  expect(r.status).toBe(200);
  expect(backupOf(r)).toMatchObject({
    status: 'unprotected',
    message: `this deployment keeps no backups: ${reason}`,
    lastGoodBackupAt: null,
    repository: null,
  });
  expect((await metrics(w)).get('powerhouse_backup_status{status="unprotected"}')).toBe(1);
  expect((await upload(w.url, 'file_rows', 'ndjson', rowsOf(911, 1))).status).toBe(201);
});

it('no backup section: /readyz and /metrics as before backups existed', async () => {
  const w = await worker(null);
  const r = await readyz(w);
  expect(r.status).toBe(200);
  expect(Object.keys(r.body)).toEqual(['status', 'latencyMs']);
  expect((await request(w.url, '/metrics', { method: 'GET' })).text).not.toMatch(/powerhouse_(backup|wal)_/);
});

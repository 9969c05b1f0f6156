// The restore drill, on PostgreSQL 16 itself: the local stack archives WAL to a pgBackRest repository (the
// config rendered by config-templates/backup.ts, as on every host) and the same `powerhouse` commands a host's
// operator runs take the backup and restore it. pgBackRest is Debian 13's 2.55.1 (.ci/install-pgbackrest):
// Debian 12's own 2.45 cannot back up PostgreSQL 16; hosts run the PostgreSQL apt repository's current release.
import fs from 'node:fs';
import path from 'node:path';
import { customTier } from '../../config-templates';
import { findPgBackRest } from '../../stacks/backup/find-pgbackrest';
import { startLocalStack, type LocalStack } from '../../stacks/local-processes/stack';
import { makeTestDir, stopAllTestServers } from '../harness';
import { archiveNow, powerhouse, tagCounts, uploadTagged, urlOnPort } from './backup-cli';
import { freePort } from '../../stacks/local-processes/free-port';
import { restorableFrom, runningPostmaster } from '../../stacks/backup/restore';
import { spawnSync } from 'node:child_process';
import { ensureServiceUser, spawnIdentity } from '../../stacks/local-processes/os-user';
import { postgresBinDir } from '../../stacks/local-processes/postgres-process';

jest.setTimeout(600_000);

const pgbackrest = findPgBackRest();
const tier = customTier({ cores: 2, ramMiB: 4096, disk: 'nvme' }, 4, 'detect');
const ROWS = 2000;

let base: string;
let stack: LocalStack | undefined;
let profile: string;
const copies: string[] = [];

function stopCopy(dir: string): void {
  if (runningPostmaster(dir) === null) return;
  // pg_ctl's own stop, as the service user.
  spawnSync(path.join(postgresBinDir(), 'pg_ctl'), ['-D', dir, 'stop', '-m', 'fast'], {
    ...spawnIdentity(ensureServiceUser()),
    stdio: 'ignore',
  });
}

async function start(): Promise<LocalStack> {
  return startLocalStack({
    dataDir: path.join(base, 'stack'),
    tier,
    ingestPort: 0,
    bouncerPort: 0,
    worker: 'in-process',
    logLevel: 'warn',
    backup: { pgbackrest, repoPath: path.join(base, 'repo'), statusIntervalMs: 1000 },
  });
}

beforeAll(async () => {
  base = makeTestDir('powerhouse-drill-').dir;
  fs.chmodSync(base, 0o711);
  stack = await start();
  profile = stack.backupProfile!;
});

afterAll(async () => {
  for (const d of copies) stopCopy(d);
  await stack?.stop();
  await stopAllTestServers();
});

const expected = new Map<number, { rows: number; digest: string }>();

test('point in time: A and B are in the copy restored to T exactly, C is not', async () => {
  const s = stack!;
  expect(await uploadTagged(s, 1, ROWS)).toBe(201);
  const full = await powerhouse(profile, ['backup', '--type', 'full']);
  expect(full).toMatchObject({ code: 0 });
  // Progress lines only, on stderr.
  for (const l of full.stderr.split('\n').filter(Boolean)) expect(l).toMatch(/^backup: \d+% \(/);
  expect(full.stdout).toMatch(/^backup \d{8}-\d{6}F \(full\) done in/);

  expect(await uploadTagged(s, 2, ROWS)).toBe(201);
  // T after the moment the backup can serve (its stop second has passed: see restorableFrom).
  const info = JSON.parse((await powerhouse(profile, ['backups', '--json'])).stdout) as {
    backups: { stoppedAt: string }[];
  };
  const from = restorableFrom(info.backups[0]).getTime();
  await new Promise((r) => setTimeout(r, Math.max(50, from - Date.now() + 50)));
  const T = new Date();
  await new Promise((r) => setTimeout(r, 50));
  expect(await uploadTagged(s, 3, ROWS)).toBe(201);
  const live = await tagCounts(s.superuserUrl);
  expect([...live.keys()]).toEqual([1, 2, 3]);
  for (const [k, v] of live) expected.set(k, v);
  // What archive_timeout would do within a minute: the segment holding C goes to the repository.
  await archiveNow(s.superuserUrl);

  const list = await powerhouse(profile, ['backups']);
  expect(list.code).toBe(0);
  expect(list.stdout).toMatch(/1 backup in posix /);

  const dir = path.join(base, 'copy-at-T');
  copies.push(dir);
  const port = await freePort();
  const r = await powerhouse(profile, [
    'restore',
    '--time',
    T.toISOString(),
    '--target-dir',
    dir,
    '--start',
    '--port',
    String(port),
  ]);
  // On failure, the command's own words (toMatchObject would show only the exit code).
  expect(r.code === 0 ? 'ok' : `exit ${r.code}\n${r.stdout}\n${r.stderr}`).toBe('ok');
  expect(r.stdout).toMatch(/the restored copy is up on port/);
  const copy = await tagCounts(urlOnPort(s, port));
  expect(copy.get(1)).toEqual(live.get(1));
  expect(copy.get(2)).toEqual(live.get(2));
  expect(copy.has(3)).toBe(false);
  // The copy archives nothing into the live repository.
  const auto = fs.readFileSync(path.join(dir, 'postgresql.auto.conf'), 'utf8');
  expect(auto).toMatch(/archive_mode = 'off'/);
  stopCopy(dir);
});

test('refusals change nothing: a time before the first backup, an unknown set, the live directory, a running server', async () => {
  const before = await powerhouse(profile, ['backups', '--json']);
  const dir = path.join(base, 'never');
  const cases: [string[], RegExp][] = [
    [['restore', '--time', '2001-01-01T00:00:00Z', '--target-dir', dir], /before the first backup ended/],
    [
      ['restore', '--latest', '--set', '20010101-000000F', '--target-dir', dir],
      /no backup "20010101-000000F"/,
    ],
    [
      ['restore', '--latest', '--target-dir', path.join(stack!.dataDir, 'postgres')],
      /is the live data directory/,
    ],
    [['restore', '--latest', '--in-place'], /PostgreSQL is running on .* \(pid \d+\): stop it first/],
    [['restore', '--time', 'yesterday', '--target-dir', dir], /is not a time/],
    [['restore', '--latest'], /say where to restore/],
  ];
  for (const [args, message] of cases) {
    const r = await powerhouse(profile, args);
    expect({ args, code: r.code === 0 ? 0 : 'failed', stderr: r.stderr }).toEqual({
      args,
      code: 'failed',
      stderr: expect.stringMatching(message),
    });
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }
  expect(fs.existsSync(dir)).toBe(false);
  expect((await powerhouse(profile, ['backups', '--json'])).stdout).toBe(before.stdout);
});

test('the primary loses its data directory: restore --latest brings back every upload archived, each once', async () => {
  let s = stack!;
  expect(await uploadTagged(s, 4, ROWS)).toBe(201);
  const archived = await archiveNow(s.superuserUrl);
  // E: acknowledged after the last archived segment, lost with the disk unless archive_timeout ran: the RPO.
  expect(await uploadTagged(s, 5, ROWS)).toBe(201);
  for (const [k, v] of await tagCounts(s.superuserUrl)) expected.set(k, v);

  await s.pg.kill();
  const dataDir = path.join(s.dataDir, 'postgres');
  fs.rmSync(dataDir, { recursive: true, force: true });
  await s.stop();
  stack = undefined;

  const t0 = Date.now();
  const r = await powerhouse(profile, ['restore', '--latest', '--in-place']);
  expect(r.stderr).toMatch(/restoring full backup/);
  expect(r).toMatchObject({ code: 0 }); // on failure: the whole result, stderr included
  expect(r.stdout).toMatch(/start PostgreSQL: powerhouse up/);
  s = stack = await start();
  const restoreSeconds = (Date.now() - t0) / 1000;

  const back = await tagCounts(s.superuserUrl);
  for (const tag of [1, 2, 3, 4]) expect({ tag, ...back.get(tag) }).toEqual({ tag, ...expected.get(tag) });
  // E is either wholly there (its segment made it) or wholly absent: never partial, never twice.
  const e = back.get(5);
  if (e) expect(e).toEqual(expected.get(5));
  process.stdout.write(
    `drill: last archived segment ${archived}; upload E (${ROWS} rows, acknowledged after it) ${e ? 'survived' : 'lost'}; ` +
      `restore + recovery + stack start ${restoreSeconds.toFixed(1)} s\n`,
  );
  // The restored primary archives on (a new timeline) and uploads go on.
  expect(await uploadTagged(s, 6, ROWS)).toBe(201);
  const after = await archiveNow(s.superuserUrl);
  expect(after.slice(0, 8)).not.toBe('00000001');
});

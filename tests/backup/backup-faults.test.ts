// Faults of the backup path, against the real thing: the repository goes away during a burst of uploads
// (uploads go on, the lag shows in /readyz, the archive catches up when it is back), and a backup killed
// midway (never listed as good; the next one works).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { customTier } from '../../config-templates';
import { findPgBackRest } from '../../stacks/backup/find-pgbackrest';
import { startLocalStack, type LocalStack } from '../../stacks/local-processes/stack';
import { makeTestDir, stopAllTestServers } from '../harness';
import { archiveNow, powerhouse, uploadTagged } from './backup-cli';

jest.setTimeout(600_000);

const pgbackrest = findPgBackRest();
let base: string;
let repo: string;
let stack: LocalStack;

interface ReadyBackup {
  status: string;
  archiveLagBytes: number | null;
  archiveFailing: boolean;
  message: string;
}

async function readyBackup(): Promise<{ http: number; backup: ReadyBackup }> {
  const r = await fetch(`${stack.ingestUrl}/readyz`);
  const body = (await r.json()) as { backup: ReadyBackup };
  return { http: r.status, backup: body.backup };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  base = makeTestDir('powerhouse-bfault-').dir;
  fs.chmodSync(base, 0o711);
  repo = path.join(base, 'repo');
  stack = await startLocalStack({
    dataDir: path.join(base, 'stack'),
    tier: customTier({ cores: 2, ramMiB: 4096, disk: 'nvme' }, 4, 'detect'),
    ingestPort: 0,
    bouncerPort: 0,
    worker: 'in-process',
    logLevel: 'warn',
    backup: { pgbackrest, repoPath: repo, statusIntervalMs: 1000 },
  });
});

afterAll(async () => {
  fs.chmodSync(repo, 0o700);
  await stack?.stop();
  await stopAllTestServers();
});

test('repository unreachable during a burst: uploads go on, the lag and the failure show, the archive catches up', async () => {
  expect((await powerhouse(stack.backupProfile!, ['backup', '--type', 'full', '--quiet'])).code).toBe(0);
  await until('backup status ok', async () =>
    (await readyBackup()).backup.status === 'ok' ? true : undefined,
  );

  fs.chmodSync(repo, 0o000); // the service user can no longer reach it: what a lost network path looks like
  const statuses: number[] = [];
  const su = new Client({ connectionString: stack.superuserUrl });
  await su.connect();
  try {
    for (let i = 0; i < 6; i++) {
      statuses.push(await uploadTagged(stack, 100 + i, 20_000));
      await su.query('SELECT pg_switch_wal()');
    }
  } finally {
    await su.end();
  }
  expect(statuses).toEqual(Array(6).fill(201));
  const failing = await until(
    'failure visible in /readyz',
    async () => {
      const r = await readyBackup();
      return r.backup.archiveFailing && r.backup.status === 'failing' ? r : undefined;
    },
    60_000,
  );
  expect(failing.http).toBe(200); // below the tier's WAL margin uploads are still taken
  expect(failing.backup.archiveLagBytes).toBeGreaterThan(16 * 1024 * 1024);
  expect(failing.backup.message).toMatch(/\S/);

  fs.chmodSync(repo, 0o700);
  await archiveNow(stack.superuserUrl, 180_000);
  const healed = await until(
    'archive caught up',
    async () => {
      const r = await readyBackup();
      return !r.backup.archiveFailing && r.backup.status === 'ok' ? r : undefined;
    },
    180_000,
  );
  expect(healed.backup.archiveLagBytes).toBeLessThan(16 * 1024 * 1024);
  const verify = await powerhouse(stack.backupProfile!, ['verify']);
  expect(verify.stdout).toMatch(/^ok +archive/m);
  expect(verify.code).toBe(0);
});

test('a backup killed midway is never listed as good, and the next one works', async () => {
  // Enough data that a full backup takes a few seconds on this machine.
  const su = new Client({ connectionString: stack.superuserUrl });
  await su.connect();
  try {
    await su.query(
      `CREATE TABLE IF NOT EXISTS public.bulk AS SELECT g AS id, md5(g::text) || repeat(md5((g * 7)::text), 6) AS pad
         FROM generate_series(1, 1500000) g`,
    );
  } finally {
    await su.end();
  }
  const before = JSON.parse((await powerhouse(stack.backupProfile!, ['backups', '--json'])).stdout) as {
    backups: { label: string }[];
  };
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(__dirname, '../../cli/main.ts'),
      'backup',
      '--type',
      'full',
      '--profile',
      stack.backupProfile!,
    ],
    { detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let progress = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      progress += d;
      const m = /backup: (\d+)%/.exec(progress);
      // The first progress report: pgBackRest holds the backup lock and copies files (it reports every second).
      if (m && Number(m[1]) < 100) resolve();
    });
    child.on('exit', () => reject(new Error(`the backup finished before it could be killed: ${progress}`)));
  });
  process.kill(-child.pid!, 'SIGKILL'); // the CLI and pgBackRest under it: an OOM kill or a reboot
  await new Promise((r) => child.once('exit', r));

  const after = JSON.parse((await powerhouse(stack.backupProfile!, ['backups', '--json'])).stdout) as {
    backups: { label: string }[];
  };
  expect(after.backups.map((b) => b.label)).toEqual(before.backups.map((b) => b.label));

  const next = await powerhouse(stack.backupProfile!, ['backup', '--type', 'full', '--quiet']);
  expect(next.stderr).toBe('');
  expect(next.code).toBe(0);
  const listed = JSON.parse((await powerhouse(stack.backupProfile!, ['backups', '--json'])).stdout) as {
    backups: { label: string }[];
  };
  expect(listed.backups).toHaveLength(before.backups.length + 1);
});

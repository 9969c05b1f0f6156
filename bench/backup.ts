// `npm run bench:backup`: how pgBackRest (the rendered config, through `powerhouse backup|restore`) backs up and
// restores a database of TM rows, against the baseline of copying the same data directory with
// `tar | zstd -3 -T<process-max>` (and back), measured in the same run, alternating, medians of --runs.
// The baseline copies the live directory without pg_wal (which pgBackRest skips too) and with no consistency
// guarantee: it is the I/O + compression floor that a backup tool pays as well. Writes bench/results/backup-latest.{md,json}.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { customTier } from '../config-templates';
import { findPgBackRest } from '../stacks/backup/find-pgbackrest';
import { postgresBinDir } from '../stacks/local-processes/postgres-process';
import { ensureOwnedDir, ensureServiceUser, spawnIdentity } from '../stacks/local-processes/os-user';
import { startLocalStack } from '../stacks/local-processes/stack';
import { round, summarize } from './stats';

const rows = Number(process.argv.find((a) => a.startsWith('--rows='))?.slice(7) ?? 4_000_000);
const runs = Number(process.argv.find((a) => a.startsWith('--runs='))?.slice(7) ?? 3);
const CLI = path.join(__dirname, '../cli/main.ts');

/** Wall time and the peak RSS (KiB) of the largest process in the command's tree (GNU time's %M). */
function timed(cmd: string, args: string[], opts: { uid?: number; gid?: number } = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...args], {
    ...opts,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  const rssKiB = Number(r.stderr.trim().split('\n').at(-1));
  return { seconds, rssKiB, stdout: r.stdout };
}

const du = (dir: string) => Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);

async function main() {
  const user = ensureServiceUser();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-bench-backup-'));
  ensureOwnedDir(base, user, 0o711);
  const stack = await startLocalStack({
    dataDir: path.join(base, 'stack'),
    tier: customTier(
      {
        cores: os.availableParallelism(),
        ramMiB: Math.min(8192, Math.floor(os.totalmem() / 2 ** 20 / 2)),
        disk: 'nvme',
      },
      4,
      'detect',
    ),
    ingestPort: 0,
    bouncerPort: 0,
    worker: 'in-process',
    logLevel: 'warn',
    backup: { pgbackrest: findPgBackRest(), repoPath: path.join(base, 'repo') },
  });
  const profile = stack.backupProfile!;
  const processMax = stack.settings.backup.processMax.value;
  try {
    const c = new Client({ connectionString: stack.superuserUrl });
    await c.connect();
    await c.query(
      `INSERT INTO tm_entries (tm_id, source, target, created_by)
         SELECT g % 1000, 'source segment ' || g || ': ' || md5(g::text) || ' the quick brown fox',
                'Zielsegment ' || g || ': ' || md5((g * 7)::text) || ' der schnelle braune Fuchs', 'bench'
           FROM generate_series(1, $1::int) g`,
      [rows],
    );
    await c.query('CHECKPOINT');
    const dbBytes = Number((await c.query('SELECT pg_database_size(current_database()) AS s')).rows[0].s);
    await c.end();
    const dataDir = path.join(stack.dataDir, 'postgres');
    const dirBytes = du(dataDir);

    const tool = {
      backup: [] as number[],
      restore: [] as number[],
      rss: [] as number[],
      stored: [] as number[],
    };
    const floor = { backup: [] as number[], restore: [] as number[], stored: [] as number[] };
    for (let i = 0; i < runs; i++) {
      // Baseline: the same directory through tar and zstd with the same parallelism, then back.
      const archive = path.join(base, `baseline-${i}.tar.zst`);
      const b = timed('sh', [
        '-c',
        `tar -C ${dataDir} --exclude=./pg_wal/* -cf - . | zstd -q -3 -T${processMax} -o ${archive}`,
      ]);
      floor.backup.push(b.seconds);
      floor.stored.push(fs.statSync(archive).size);
      const untar = path.join(base, `baseline-${i}`);
      fs.mkdirSync(untar);
      floor.restore.push(
        timed('sh', ['-c', `zstd -q -d -T${processMax} -c ${archive} | tar -C ${untar} -xf -`]).seconds,
      );
      fs.rmSync(untar, { recursive: true });
      fs.rmSync(archive);

      const t = timed(process.execPath, [
        '--import',
        'tsx',
        CLI,
        'backup',
        '--type',
        'full',
        '--quiet',
        '--profile',
        profile,
      ]);
      tool.backup.push(t.seconds);
      tool.rss.push(t.rssKiB);
      // What this set takes in the repository (pgBackRest's own figure: retention expires older sets meanwhile).
      const listed = JSON.parse(
        timed(process.execPath, ['--import', 'tsx', CLI, 'backups', '--json', '--profile', profile]).stdout,
      ) as { backups: { repoSizeBytes: number }[] };
      tool.stored.push(listed.backups.at(-1)!.repoSizeBytes);
      const copy = path.join(base, `copy-${i}`);
      const port = 56000 + i;
      const r = timed(process.execPath, [
        '--import',
        'tsx',
        CLI,
        'restore',
        '--latest',
        '--target-dir',
        copy,
        '--start',
        '--port',
        String(port),
        '--profile',
        profile,
      ]);
      tool.restore.push(r.seconds);
      spawnSync(path.join(postgresBinDir(), 'pg_ctl'), ['-D', copy, 'stop', '-m', 'fast'], {
        ...spawnIdentity(user),
        stdio: 'ignore',
      });
      fs.rmSync(copy, { recursive: true, force: true });
    }
    const med = (v: number[]) => summarize(v).p50;
    const gb = dbBytes / 1e9;
    const report = {
      date: new Date().toISOString(),
      host: os.hostname(),
      cores: os.availableParallelism(),
      rows,
      runs,
      processMax,
      databaseBytes: dbBytes,
      dataDirBytes: dirBytes,
      pgbackrest: {
        backupSecondsMedian: round(med(tool.backup)),
        restoreSecondsMedian: round(med(tool.restore)),
        restoreSecondsPerGB: round(med(tool.restore) / gb),
        storedBytesMedian: med(tool.stored),
        peakRssMiBMedian: round(med(tool.rss) / 1024),
      },
      baseline: {
        what: `tar \\| zstd -3 -T${processMax} of the data directory without pg_wal, and back`,
        backupSecondsMedian: round(med(floor.backup)),
        restoreSecondsMedian: round(med(floor.restore)),
        storedBytesMedian: med(floor.stored),
      },
      ratios: {
        backupTime: round(med(tool.backup) / med(floor.backup)),
        restoreTime: round(med(tool.restore) / med(floor.restore)),
        storedSize: round(med(tool.stored) / med(floor.stored)),
      },
      raw: { tool, floor },
    };
    const out = path.join(__dirname, 'results');
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, 'backup-latest.json'), JSON.stringify(report, null, 2) + '\n');
    const p = report.pgbackrest;
    const f = report.baseline;
    const md = [
      `# Backup and restore, ${report.date.slice(0, 10)} (${report.host}, ${report.cores} cores)`,
      '',
      `${rows.toLocaleString('en-US')} TM rows, database ${(dbBytes / 2 ** 30).toFixed(2)} GiB; medians of ${runs} alternating runs; process-max ${processMax}.`,
      '',
      '| | pgBackRest (`powerhouse backup` / `restore --start`) | baseline (' + f.what + ') | ratio |',
      '| --- | --- | --- | --- |',
      `| backup | ${p.backupSecondsMedian} s | ${f.backupSecondsMedian} s | ${report.ratios.backupTime}× |`,
      `| restore (+ recovery, start) | ${p.restoreSecondsMedian} s (${p.restoreSecondsPerGB} s/GB) | ${f.restoreSecondsMedian} s | ${report.ratios.restoreTime}× |`,
      `| stored | ${(p.storedBytesMedian / 2 ** 20).toFixed(0)} MiB | ${(f.storedBytesMedian / 2 ** 20).toFixed(0)} MiB | ${report.ratios.storedSize}× |`,
      '',
      `Peak RSS of the backup command tree's largest process: ${p.peakRssMiBMedian} MiB (median).`,
      '',
    ].join('\n');
    fs.writeFileSync(path.join(out, 'backup-latest.md'), md);
    process.stdout.write(md);
  } finally {
    await stack.stop();
    fs.rmSync(base, { recursive: true, force: true });
  }
}

void main();

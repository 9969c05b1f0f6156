// `npm run soak -- --minutes 5 --seed 42`: the whole local stack under continuous uploads while real faults
// hit its processes at random. At the end every acknowledged upload must be in the database exactly once,
// every upload abandoned mid-body must be absent, and there must be nothing else. Exit code 1 otherwise.
import { Command, InvalidArgumentError } from 'commander';
import { sleep } from '../tests/reliability/http-client';
import { startLiveStack, type LiveStack } from '../tests/reliability/live-stack';
import { mulberry32 } from '../ingest/client/tm-rows';
import { faultLoop, repair, type FaultLog } from './faults';
import { Ledger } from './ledger';
import { untilAcknowledged, uploaderLoop, type UploaderOptions } from './uploaders';

const positive = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
  return n;
};

const program = new Command('soak')
  .description('continuous uploads with random process faults; checks that nothing is lost or duplicated')
  .option('--minutes <n>', 'how long to upload and inject faults', positive('--minutes'), 5)
  .option('--seed <n>', 'seed of every random choice (default: random, printed)', (v) => {
    const n = Number(v);
    if (!Number.isInteger(n)) throw new InvalidArgumentError('--seed must be an integer');
    return n;
  })
  .option('--users <n>', 'concurrent uploaders of the tier (= the worker limit)', positive('--users'), 4)
  .option('--clients <n>', 'client loops (more than --users exercises the 503 limit)', positive('--clients'))
  .option('--fault-every <s>', 'mean seconds between faults', positive('--fault-every'), 8)
  .option('--max-rows <n>', 'rows per upload at most', positive('--max-rows'), 3000);

interface Options {
  minutes: number;
  seed?: number;
  users: number;
  clients?: number;
  faultEvery: number;
  maxRows: number;
}

async function waitReady(live: LiveStack, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(`${live.url}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`/readyz not 200 within ${timeoutMs / 1000} s`);
    await sleep(200);
  }
}

interface Found {
  file_id: string;
  rows: number;
  distinct: number;
}

async function main(): Promise<number> {
  const opts = program.parse().opts<Options>();
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
  const rnd = mulberry32(seed);
  const clients = Math.round(opts.clients ?? opts.users + 2);
  const users = Math.round(opts.users);
  console.log(`soak: ${opts.minutes} min, seed ${seed}, tier users ${users}, ${clients} client loops`);

  const live = await startLiveStack({ users, extraTokens: 3, logLevel: 'warn' });
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    console.log('\ninterrupted: finishing up (Ctrl-C again to leave the stack running)');
  });
  try {
    // A short grace period keeps graceful-restart faults short; the rest is the tier as deployed.
    await live.reconfigureWorker((c) => ({ ...c, limits: { ...c.limits, shutdownGraceMs: 5000 } }));
    const ledger = new Ledger();
    const faults: FaultLog = { injected: {}, failures: [] };
    let fileId = 1;
    const uploader: UploaderOptions = {
      url: () => live.url,
      tokens: [live.token, ...live.stack.tokens],
      ledger,
      rnd,
      abandonRate: 0.05,
      maxRows: Math.round(opts.maxRows),
      nextFileId: () => fileId++,
    };

    const t0 = Date.now();
    const endAt = t0 + opts.minutes * 60_000;
    const stop = () => interrupted || Date.now() >= endAt;
    const progress = setInterval(() => {
      const s = Math.round((Date.now() - t0) / 1000);
      const nFaults = Object.values(faults.injected).reduce((a, b) => a + b, 0);
      console.log(
        `${s}s: ${ledger.uploads.size} uploads, ${ledger.count('acknowledged')} acknowledged, ` +
          `${ledger.count('pending')} in flight or retrying, ${ledger.count('abandoned')} abandoned, ${nFaults} faults`,
      );
    }, 10_000);

    const mean = opts.faultEvery * 1000;
    await Promise.all([
      ...Array.from({ length: clients }, (_, i) => uploaderLoop(uploader, i, stop)),
      faultLoop(live, rnd, stop, { minMs: mean / 2, maxMs: (mean * 3) / 2 }, faults),
    ]);
    clearInterval(progress);

    // Settle: the stack is brought up if a fault left it down, then every pending upload is retried with
    // its key until acknowledged (a 200 replay when its earlier attempt had committed unseen).
    console.log('settling: retrying pending uploads with their keys');
    await repair(live);
    await waitReady(live, 120_000);
    const settleBy = Date.now() + 180_000;
    const pending = [...ledger.uploads.values()].filter((u) => u.state === 'pending');
    for (let i = 0; i < pending.length; i += users) {
      await Promise.all(
        pending.slice(i, i + users).map((u) => untilAcknowledged(uploader, u, () => Date.now() > settleBy)),
      );
    }

    // Reconcile with the database.
    const found = await live.sql<Found>(
      `SELECT file_id::text, count(*)::int AS rows, count(DISTINCT row_num)::int AS distinct
         FROM file_rows GROUP BY file_id`,
    );
    const byFile = new Map(found.map((f) => [Number(f.file_id), f]));
    const problems: string[] = [...ledger.unexpected.map((u) => `unexpected answer: ${u}`)];
    for (const u of ledger.uploads.values()) {
      const f = byFile.get(u.fileId);
      byFile.delete(u.fileId);
      if (u.state === 'acknowledged') {
        if (!f || f.rows !== u.rows || f.distinct !== u.rows)
          problems.push(
            `acknowledged ${u.key}: sent ${u.rows} rows, found ${f?.rows ?? 0} (${f?.distinct ?? 0} distinct)`,
          );
        if (u.created > 1) problems.push(`${u.key}: ${u.created} × 201 for one key`);
      } else if (u.state === 'abandoned') {
        if (f) problems.push(`abandoned ${u.key} (client vanished mid-body) is stored: ${f.rows} rows`);
      } else {
        problems.push(`${u.key} was never acknowledged, even after settling`);
      }
    }
    for (const f of byFile.values()) problems.push(`file ${f.file_id}: ${f.rows} rows nobody uploaded`);
    const [dupKeys] = await live.sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT 1 FROM powerhouse.uploads WHERE status = 'committed'
         GROUP BY token_id, table_name, idempotency_key HAVING count(*) > 1) d`,
    );
    if (dupKeys.n > 0) problems.push(`${dupKeys.n} idempotency keys committed more than once`);

    const rowsFound = found.reduce((a, f) => a + f.rows, 0);
    const summary = {
      seed,
      minutes: +((Date.now() - t0) / 60_000).toFixed(2),
      uploadsAttempted: ledger.uploads.size,
      httpAttempts: [...ledger.uploads.values()].reduce((a, u) => a + u.attempts, 0),
      acknowledged: ledger.count('acknowledged'),
      abandonedMidBody: ledger.count('abandoned'),
      neverAcknowledged: ledger.count('pending'),
      outcomes: ledger.outcomes,
      faultsInjected: faults.injected,
      faultStepFailures: faults.failures,
      rowsExpected: ledger.rows('acknowledged'),
      rowsFound,
      problems: problems.length,
    };
    console.log(JSON.stringify(summary, null, 2));
    for (const p of problems.slice(0, 50)) console.log(`PROBLEM: ${p}`);
    if (problems.length === 0 && summary.acknowledged > 0)
      console.log(
        `OK: ${summary.acknowledged} acknowledged uploads, ${rowsFound} rows, each exactly once; nothing else stored`,
      );
    return problems.length === 0 && summary.acknowledged > 0 ? 0 : 1;
  } catch (err) {
    console.error(`soak failed: ${(err as Error).stack}`);
    console.error(`worker log tail:\n${live.workerLog().split('\n').slice(-30).join('\n')}`);
    throw err;
  } finally {
    await live.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

// The Python client's upload_rows of 1M TM rows, next to the TypeScript SDK's uploadRows and `psql \copy` of
// the same rows, in the same run against the same local stack (PostgreSQL 16 + PgBouncer + the worker as a
// child process). Each method runs `--runs` times (default 3) in a counterbalanced order (A B C, C B A, …),
// on an empty table after a CHECKPOINT; the rows are built in memory before the clock starts (in each
// language). Report: medians in rows/s and the ratios, bench/results/python-latest.{md,json}.
//   npm run bench:python [-- --rows 1000000 --runs 3]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { tierFromFlags } from '../cli/tier-options';
import { uploadRows } from '../ingest/client';
import { TM_COLUMNS, tmRows } from '../ingest/client/tm-rows';
import { startLocalStack } from '../stacks/local-processes/stack';
import { connectionFromUrl, psqlCopy } from './psql-copy';
import { writeResults } from './results-file';
import { writeRowFiles } from './row-files';

const ROOT = path.join(__dirname, '..');
const SEED = 16;
type Method = 'python' | 'typescript' | 'psql';
const METHODS: Method[] = ['python', 'typescript', 'psql'];

// The Python side: reads the COPY text file psql loads (untimed) into tuples, then times upload_rows.
const PYTHON_CHILD = String.raw`
import json, re, sys, time
sys.path.insert(0, sys.argv[1])
from powerhouse_client import upload_rows
ESC = re.compile(r"\\(.)")
UNESC = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\", "b": "\b", "f": "\f", "v": "\v"}
def field(f):
    if f == "\\N":
        return None
    return ESC.sub(lambda m: UNESC.get(m.group(1), m.group(1)), f) if "\\" in f else f
rows = []
with open(sys.argv[4], encoding="utf-8", newline="\n") as fh:
    for line in fh:
        tm, s, t, c = line.rstrip("\n").split("\t")
        rows.append((int(tm), field(s), field(t), field(c)))
t0 = time.perf_counter()
r = upload_rows(sys.argv[2], sys.argv[3], "tm_entries", rows, columns=["tm_id", "source", "target", "created_by"])
print(json.dumps({"rows": r.rows, "ms": (time.perf_counter() - t0) * 1000}))
`;

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) {
    process.stderr.write(`--${name} must be a whole number >= 1\n`);
    process.exit(2);
  }
  return v;
}

function runPython(url: string, token: string, file: string): Promise<{ rows: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'python3',
      ['-c', PYTHON_CHILD, path.join(ROOT, 'clients/python/src'), url, token, file],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out) as { rows: number; ms: number }) : reject(new Error(err)),
    );
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const rows = flag('rows', 1_000_000);
  const runs = flag('runs', 3);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-bench-python-'));
  // Its own temp dir: the stack's helpers make it reachable by the unprivileged postgres user.
  const stackDir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-bench-python-stack-'));
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const tier = tierFromFlags({ tier: 'detect' });
  log(`starting the local stack (tier detect: ${tier.hardware.cores} cores) in ${stackDir}`);
  const stack = await startLocalStack({
    dataDir: stackDir,
    tier,
    ingestPort: 0,
    bouncerPort: 0,
    worker: 'child',
    logLevel: 'warn',
  });
  const admin = new Client({ connectionString: stack.superuserUrl });
  await admin.connect();
  try {
    const file = writeRowFiles(dir, 'tm', tmRows(SEED, rows), ['tsv']).tsv!;
    const tsRows = [...tmRows(SEED, rows)].map((r) => [r.tmId, r.source, r.target, r.createdBy]);
    const times: Record<Method, number[]> = { python: [], typescript: [], psql: [] };
    for (let round = 0; round < runs; round++) {
      const order = round % 2 === 0 ? METHODS : [...METHODS].reverse();
      for (const method of order) {
        await admin.query('TRUNCATE tm_entries RESTART IDENTITY');
        await admin.query('CHECKPOINT');
        let ms: number;
        if (method === 'python') ms = (await runPython(stack.ingestUrl, stack.token, file.path)).ms;
        else if (method === 'typescript') {
          const t0 = performance.now();
          await uploadRows(stack.ingestUrl, stack.token, 'tm_entries', tsRows, { columns: [...TM_COLUMNS] });
          ms = performance.now() - t0;
        } else {
          ms = (await psqlCopy(connectionFromUrl(stack.superuserUrl), 'tm_entries', TM_COLUMNS, file.path))
            .ms;
        }
        const stored = Number((await admin.query('SELECT count(*) AS n FROM tm_entries')).rows[0].n);
        if (stored !== rows) throw new Error(`${method}: ${stored} rows stored, expected ${rows}`);
        times[method].push(ms);
        log(`round ${round + 1} ${method}: ${Math.round((rows / ms) * 1000).toLocaleString('en')} rows/s`);
      }
    }
    const rate = (m: Method) => Math.round((rows / median(times[m])) * 1000);
    const ratio = (a: Method, b: Method) => Math.round((rate(a) / rate(b)) * 100) / 100;
    const report = {
      date: new Date().toISOString(),
      machine: { cpu: os.cpus()[0]?.model.trim(), cores: os.availableParallelism(), python: 'python3' },
      rows,
      runs,
      order: 'counterbalanced: python, typescript, psql; then reversed; …',
      msPerRun: times,
      medianRowsPerSecond: { python: rate('python'), typescript: rate('typescript'), psql: rate('psql') },
      ratios: {
        pythonToTypescript: ratio('python', 'typescript'),
        pythonToPsql: ratio('python', 'psql'),
        typescriptToPsql: ratio('typescript', 'psql'),
      },
      target: 'python >= 0.7x the TypeScript SDK',
    };
    const md = [
      '# Python client vs TypeScript SDK vs psql \\copy',
      '',
      `${report.date}, ${report.machine.cores} cores (${report.machine.cpu}); ${rows.toLocaleString('en')} TM rows ` +
        `(seed ${SEED}) into tm_entries, ${runs} runs each in a counterbalanced order, medians; each run on an ` +
        'empty table after a CHECKPOINT. The SDKs upload through the worker and PgBouncer (binary COPY encoded ' +
        'on the client, rows built in memory before the clock starts); psql loads the COPY text file directly.',
      '',
      '| method | median rows/s | runs (ms) |',
      '| --- | --- | --- |',
      ...METHODS.map(
        (m) =>
          `| ${m === 'psql' ? 'psql \\copy' : m === 'python' ? 'Python upload_rows' : 'TypeScript uploadRows'} | ${rate(m).toLocaleString('en')} | ${times[m].map(Math.round).join(', ')} |`,
      ),
      '',
      `Python / TypeScript: **${report.ratios.pythonToTypescript}×** (target ≥ 0.7×); Python / psql: ` +
        `${report.ratios.pythonToPsql}×; TypeScript / psql: ${report.ratios.typescriptToPsql}×.`,
      '',
    ].join('\n');
    writeResults('python-latest', md, report);
  } finally {
    await admin.end().catch(() => undefined);
    await stack.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(stackDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:python: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});

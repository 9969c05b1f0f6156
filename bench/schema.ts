// `npm run bench:schema`: which tm_entries schema takes N concurrent bulk writers best. N parallel `psql \copy`
// (PostgreSQL's own client, straight to the server: the schema alone, no worker) into each candidate, for two
// workloads: every uploader its own tm_id (personal memories) and all of them one tm_id (a team memory), rounds
// in rotating order, medians. Ratios are to today's schema (migration 1) and to the index-free ceiling, all in
// the same run. The endpoint (worker + PgBouncer, the SDK's uploadFile, one token per uploader) loads the same
// files into tm_entries, which after migration 4 has the shipped schema (= key_tm_id_cached); and one large
// upload (`single`) compares the endpoint with psql into today's and the new schema. Also what the backends
// waited on (pg_stat_activity sampled every 100 ms).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { customTier } from '../config-templates';
import { tmRows, TM_COLUMNS, type TmRow } from '../ingest/client/tm-rows';
import { startLocalStack } from '../stacks/local-processes/stack';
import { uploadFile } from '../ingest/client';
import { beforeEndpointRun, beforePsqlRun, openContext } from './bench-context';
import { psqlCopy } from './psql-copy';
import { writeRowFiles } from './row-files';
import { writeResults } from './results-file';
import { median } from './stats';
import { topWaits } from './samplers';

interface Candidate {
  name: string;
  what: string;
  ddl: (t: string) => string;
}

const COLS = `id bigint GENERATED ALWAYS AS IDENTITY%s,
  tm_id bigint NOT NULL,
  source text NOT NULL,
  target text NOT NULL,
  created_by text,
  created_at timestamptz NOT NULL DEFAULT now()`;
const cols = (identity = '') => COLS.replace('%s', identity);

/** Sequence values each backend takes at a time: its COPY then fills its own key range. */
const CACHE = 'CACHE 128';

export const CANDIDATES: readonly Candidate[] = [
  {
    name: 'today',
    what: 'migration 1: identity primary key (id) + index (tm_id)',
    ddl: (t) => `CREATE TABLE ${t} (${cols(' PRIMARY KEY')});\nCREATE INDEX ON ${t} (tm_id);`,
  },
  {
    name: 'key_tm_id',
    what: 'primary key (tm_id, id), no other index',
    ddl: (t) => `CREATE TABLE ${t} (${cols()}, PRIMARY KEY (tm_id, id));`,
  },
  {
    name: 'today_cached',
    what: `migration 1 with the identity sequence ${CACHE}`,
    ddl: (t) => `CREATE TABLE ${t} (${cols(` (${CACHE}) PRIMARY KEY`)});\nCREATE INDEX ON ${t} (tm_id);`,
  },
  {
    name: 'key_tm_id_cached',
    what: `primary key (tm_id, id), identity ${CACHE}`,
    ddl: (t) => `CREATE TABLE ${t} (${cols(` (${CACHE})`)}, PRIMARY KEY (tm_id, id));`,
  },
  {
    name: 'key_tm_id_cached_brin',
    what: `primary key (tm_id, id), identity ${CACHE}, BRIN (id) and BRIN (created_at) for sync`,
    ddl: (t) =>
      `CREATE TABLE ${t} (${cols(` (${CACHE})`)}, PRIMARY KEY (tm_id, id));\n` +
      `CREATE INDEX ON ${t} USING brin (id) WITH (pages_per_range = 32);\n` +
      `CREATE INDEX ON ${t} USING brin (created_at) WITH (pages_per_range = 32);`,
  },
  {
    name: 'hash8_cached',
    what: `8 hash partitions by tm_id, each primary key (tm_id, id), identity ${CACHE}`,
    ddl: (t) =>
      `CREATE TABLE ${t} (${cols(` (${CACHE})`)}, PRIMARY KEY (tm_id, id)) PARTITION BY HASH (tm_id);\n` +
      Array.from(
        { length: 8 },
        (_, i) => `CREATE TABLE ${t}_p${i} PARTITION OF ${t} FOR VALUES WITH (MODULUS 8, REMAINDER ${i});`,
      ).join('\n'),
  },
  { name: 'no_index', what: 'no index at all: the ceiling', ddl: (t) => `CREATE TABLE ${t} (${cols()});` },
];

/** Not a DDL: the worker's uploads into tm_entries, the shipped schema (migration 4). */
const ENDPOINT = {
  name: 'endpoint_v4',
  what: 'the endpoint (worker, PgBouncer, SDK uploadFile) into tm_entries after migration 4',
};
type Workload = 'own' | 'shared' | 'single';
const WORKLOADS: readonly Workload[] = ['own', 'shared', 'single'];
/** The single large upload compares only these. */
const SINGLE = new Set(['today', 'key_tm_id_cached', 'no_index', ENDPOINT.name]);

const TABLE = 'public.schema_bench';

function parseArgs(argv: string[]) {
  const get = (flag: string, dflt: number) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? Number(argv[i + 1]) : dflt;
  };
  const text = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const names = text('--candidates')?.split(',');
  const unknown = names?.filter((n) => !CANDIDATES.some((c) => c.name === n));
  if (unknown?.length) throw new Error(`--candidates: unknown ${unknown.join(', ')}`);
  return {
    users: get('--users', 40),
    rows: get('--rows', 50_000),
    singleRows: get('--single-rows', 1_000_000),
    rounds: get('--rounds', 3),
    /** A subset of the candidates (the endpoint always runs), e.g. today,key_tm_id_cached,no_index for the targets. */
    candidates: names ? CANDIDATES.filter((c) => names.includes(c.name)) : CANDIDATES,
    /** Writes results/schema-<tag>.* instead of schema-latest.* (which powerhouse plan calibrates from). */
    tag: text('--tag'),
  };
}

async function waitEvents(
  c: Client,
  stop: { done: boolean },
  endpoint: boolean,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  while (!stop.done) {
    // psql's sessions by name; the worker's COPY sessions by their statement (PgBouncer hides the client name).
    const r = await c.query<{ e: string }>(
      `SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS e FROM pg_stat_activity
        WHERE state = 'active' AND backend_type = 'client backend'
          AND (CASE WHEN $1 THEN query ILIKE 'COPY %' AND application_name <> 'bench-psql-copy' ELSE application_name = 'bench-psql-copy' END)`,
      [endpoint],
    );
    for (const { e } of r.rows) counts.set(e, (counts.get(e) ?? 0) + 1);
    await new Promise((res) => setTimeout(res, 100));
  }
  return counts;
}

async function main(): Promise<void> {
  const { users, rows, singleRows, rounds, candidates, tag } = parseArgs(process.argv.slice(2));
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-bench-schema-'));
  fs.chmodSync(work, 0o755);
  const tier = customTier(
    { cores: os.cpus().length, ramMiB: Math.floor(os.totalmem() / 2 ** 20), disk: 'ssd' },
    users,
    'detect',
  );
  log(`starting PostgreSQL (tier for ${users} users); generating ${users} × ${rows} rows twice`);
  const stack = await startLocalStack({
    dataDir: path.join(work, 'stack'),
    tier,
    ingestPort: 0,
    bouncerPort: 0,
    logLevel: 'warn',
    worker: 'child',
    extraTokens: users,
  });
  try {
    const ctx = await openContext(stack, work, log);
    const files: Record<Workload, string[]> = { own: [], shared: [], single: [] };
    files.single.push(writeRowFiles(work, 'single', tmRows(999, singleRows, 0), ['tsv']).tsv!.path);
    for (let u = 0; u < users; u++)
      for (const w of ['own', 'shared'] as const) {
        const tmId = w === 'own' ? 1000 + u : 7;
        const gen = (function* (): Generator<TmRow> {
          for (const r of tmRows(u + 1, rows, 0)) yield { ...r, tmId };
        })();
        files[w].push(writeRowFiles(work, `${w}-${u}`, gen, ['tsv']).tsv!.path);
      }
    const results: Record<string, Record<string, number[]>> = {};
    const events: Record<string, Record<string, Map<string, number>>> = {};
    for (let round = 0; round < rounds; round++) {
      // Rotating order: no candidate is always first (fresh caches) or last (a warm, busier disk).
      const all = [...candidates, ENDPOINT];
      const order = all.map((_, i) => all[(i + round) % all.length]);
      for (const cand of order)
        for (const w of WORKLOADS) {
          if (w === 'single' && !SINGLE.has(cand.name)) continue;
          const endpoint = cand === ENDPOINT;
          const table = endpoint ? 'public.tm_entries' : TABLE;
          if (endpoint) {
            await ctx.admin.query('TRUNCATE public.tm_entries');
          } else {
            await ctx.admin.query(`DROP TABLE IF EXISTS ${TABLE} CASCADE`);
            await ctx.admin.query((cand as Candidate).ddl(TABLE));
          }
          await ctx.admin.query('CHECKPOINT');
          await (endpoint ? beforeEndpointRun(ctx) : beforePsqlRun(ctx));
          const sampler = new Client({
            connectionString: stack.superuserUrl,
            application_name: 'bench-sampler',
          });
          sampler.on('error', () => undefined);
          await sampler.connect();
          const stop = { done: false };
          // A sampler that loses its connection (the stack stopping after a failure) must not hide that failure.
          const sampling = waitEvents(sampler, stop, endpoint).catch(() => new Map<string, number>());
          const t0 = performance.now();
          try {
            await Promise.all(
              files[w].map((f, i) =>
                endpoint
                  ? uploadFile(stack.ingestUrl, stack.tokens[i], 'tm_entries', f, {
                      format: 'tsv',
                      columns: [...TM_COLUMNS],
                    })
                  : psqlCopy(ctx.psqlConn, TABLE, TM_COLUMNS, f),
              ),
            );
          } finally {
            stop.done = true;
          }
          const ms = performance.now() - t0;
          const ev = await sampling;
          await sampler.end();
          const want = files[w].length * (w === 'single' ? singleRows : rows);
          const n = Number(
            (await ctx.admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0].n,
          );
          if (n !== want) throw new Error(`${cand.name}/${w}: ${n} rows stored, expected ${want}`);
          const rate = (n * 1000) / ms;
          ((results[cand.name] ??= {})[w] ??= []).push(rate);
          const agg = ((events[cand.name] ??= {})[w] ??= new Map());
          for (const [k, v] of ev) agg.set(k, (agg.get(k) ?? 0) + v);
          log(
            `round ${round + 1}/${rounds} ${cand.name.padEnd(22)} ${w.padEnd(6)} ${Math.round(rate)} rows/s`,
          );
        }
    }
    await ctx.admin.query(`DROP TABLE IF EXISTS ${TABLE} CASCADE`);
    await ctx.admin.end();
    report({ users, rows, singleRows, rounds, results, events, candidates, tag });
  } finally {
    await stack.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function report(r: {
  users: number;
  rows: number;
  singleRows: number;
  rounds: number;
  results: Record<string, Record<string, number[]>>;
  events: Record<string, Record<string, Map<string, number>>>;
  candidates: readonly Candidate[];
  tag?: string;
}): void {
  const med = (c: string, w: Workload) => (r.results[c]?.[w] ? median(r.results[c][w]) : NaN);
  const x = (a: number, b: number) =>
    Number.isFinite(a) && Number.isFinite(b) ? `${(a / b).toFixed(2)}×` : '–';
  const rows = [...r.candidates, ENDPOINT];
  const lines = [
    `# Schema for ${r.users} concurrent writers: psql \\copy into each candidate and the endpoint into the shipped one`,
    '',
    `Measured ${new Date().toISOString()} on ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB ` +
      `(load ${os.loadavg()[0].toFixed(2)} at the end); medians of ${r.rounds} rounds, candidates in rotating order.`,
    `\`own\`: ${r.users} × ${r.rows} rows, every uploader its own tm_id; \`shared\`: the same, all one tm_id; ` +
      `\`single\`: one upload of ${r.singleRows} rows. Ratios to today's schema (psql) and to the index-free ceiling (psql), same run.`,
    '',
    '| schema | own rows/s | × today | × ceiling | shared rows/s | × today | × ceiling | single rows/s | × today | top waits (own) |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const c of rows) {
    const cells = (['own', 'shared'] as const).flatMap((w) => [
      String(Math.round(med(c.name, w))),
      x(med(c.name, w), med('today', w)),
      x(med(c.name, w), med('no_index', w)),
    ]);
    const single = Number.isFinite(med(c.name, 'single'))
      ? [String(Math.round(med(c.name, 'single'))), x(med(c.name, 'single'), med('today', 'single'))]
      : ['–', '–'];
    lines.push(
      `| ${c.name}: ${c.what} | ${[...cells, ...single].join(' | ')} | ${topWaits(r.events[c.name]?.own)} |`,
    );
  }
  const e = ENDPOINT.name;
  lines.push(
    '',
    'Targets (issue 13, ratios on this machine, same run):',
    '',
    `- N = ${r.users} endpoint(v4) vs index-free ceiling: ${x(med(e, 'own'), med('no_index', 'own'))} own, ${x(med(e, 'shared'), med('no_index', 'shared'))} shared (target ≥ 0.8×)`,
    `- N = ${r.users} endpoint(v4) vs psql(today): ${x(med(e, 'own'), med('today', 'own'))} own, ${x(med(e, 'shared'), med('today', 'shared'))} shared (target ≥ 1.25×)`,
    `- N = ${r.users} endpoint(v4) vs psql(v4 = key_tm_id_cached): ${x(med(e, 'own'), med('key_tm_id_cached', 'own'))} own, ${x(med(e, 'shared'), med('key_tm_id_cached', 'shared'))} shared (target ≥ 1.0×)`,
    `- one ${r.singleRows}-row upload endpoint(v4) vs psql(today): ${x(med(e, 'single'), med('today', 'single'))} (target ≥ 1.4×); vs psql(v4): ${x(med(e, 'single'), med('key_tm_id_cached', 'single'))}`,
    '',
    'Every run (rows/s):',
    '',
  );
  for (const c of rows)
    lines.push(
      `- ${c.name}: ${WORKLOADS.filter((w) => r.results[c.name]?.[w])
        .map((w) => `${w} ${r.results[c.name][w].map(Math.round).join(', ')}`)
        .join('; ')}`,
    );
  lines.push('', 'Wait events (share of sampled active sessions, own / shared / single):', '');
  for (const c of rows)
    lines.push(`- ${c.name}: ${WORKLOADS.map((w) => topWaits(r.events[c.name]?.[w]) || '–').join(' / ')}`);
  const events = Object.fromEntries(
    Object.entries(r.events).map(([c, ws]) => [
      c,
      Object.fromEntries(Object.entries(ws).map(([w, m]) => [w, Object.fromEntries(m)])),
    ]),
  );
  // powerhouse plan --calibration reads this file: the endpoint's medians and the machine they were measured on.
  const machine = {
    cores: os.cpus().length,
    ramGiB: Math.round(os.totalmem() / 2 ** 30),
    loadAtEnd: os.loadavg()[0],
  };
  const { candidates, tag, ...measured } = r;
  writeResults(tag ? `schema-${tag}` : 'schema-latest', lines.join('\n'), {
    measuredAt: new Date().toISOString(),
    machine,
    ...measured,
    candidates: candidates.map((c) => c.name),
    events,
  });
}

if (require.main === module)
  main().catch((err: unknown) => {
    process.stderr.write(`bench:schema: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });

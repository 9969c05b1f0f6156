// `npm run bench:schema`: which tm_entries schema takes N concurrent bulk writers best. N parallel `psql \copy`
// (PostgreSQL's own client, straight to the server: the schema alone, no worker) into each candidate, for two
// workloads: every uploader its own tm_id (personal memories) and all of them one tm_id (a team memory), rounds
// in rotating order, medians. Ratios are to today's schema (migration 1) and to the index-free ceiling, all in
// the same run. The endpoint (worker + PgBouncer, one token per uploader) loads the same rows into tm_entries,
// which after migration 4 has the shipped schema (= key_tm_id_cached), with the body the desktop app sends
// (binary COPY: what the SDK's uploadRows and CSV uploadFile encode, here encoded once to a file as psql's input
// is) and, like for like with psql's text input, the TSV file through the SDK's uploadFile; psql also loads the
// binary file into the shipped schema, so the format's own gain is shown apart from the endpoint's. One large
// upload (`single`) compares the same. Also what the backends waited on (pg_stat_activity every 100 ms).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tmRows, TM_COLUMNS, type TmRow } from '../ingest/client/tm-rows';
import { uploadFile } from '../ingest/client';
import { uploadFile as uploadRawFile } from './http-upload';
import {
  beforeEndpointRun,
  beforePsqlRun,
  benchWorkDir,
  openContext,
  startBenchStack,
} from './bench-context';
import { psqlCopy } from './psql-copy';
import { writeRowFiles } from './row-files';
import { writeResults } from './results-file';
import { median } from './stats';
import { topWaits, waitEventSampler } from './samplers';

interface Candidate {
  name: string;
  what: string;
  ddl: (t: string) => string;
  /** psql's input: COPY text (default) or the binary file of the same rows. */
  format?: 'binary';
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
    name: 'key_tm_id_cached_binary',
    what: `the shipped schema (= key_tm_id_cached), psql \\copy of the binary COPY file (the endpoint's body)`,
    ddl: (t) => `CREATE TABLE ${t} (${cols(` (${CACHE})`)}, PRIMARY KEY (tm_id, id));`,
    format: 'binary',
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

/** Not a DDL: the worker's uploads into tm_entries, the shipped schema (migration 4), with either body. */
interface Endpoint {
  name: string;
  what: string;
  body: 'pgcopy' | 'tsv';
}
/** The desktop app's body; powerhouse plan calibrates from its figures (config-templates/throughput.ts). */
const ENDPOINT: Endpoint = {
  name: 'endpoint_v4',
  what: 'the endpoint (worker, PgBouncer) into tm_entries after migration 4, binary COPY body (what uploadRows sends)',
  body: 'pgcopy',
};
const ENDPOINT_TSV: Endpoint = {
  name: 'endpoint_v4_tsv',
  what: 'the same with the TSV file (SDK uploadFile, text COPY as psql sends)',
  body: 'tsv',
};
const ENDPOINTS: readonly Endpoint[] = [ENDPOINT, ENDPOINT_TSV];
type Workload = 'own' | 'shared' | 'single';
const WORKLOADS: readonly Workload[] = ['own', 'shared', 'single'];
/** The single large upload compares only these. */
const SINGLE = new Set([
  'today',
  'key_tm_id_cached',
  'key_tm_id_cached_binary',
  'no_index',
  ...ENDPOINTS.map((e) => e.name),
]);

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
    rows: get('--rows', 100_000),
    singleRows: get('--single-rows', 1_000_000),
    rounds: get('--rounds', 3),
    /** A subset of the candidates (the endpoints always run), e.g. today,key_tm_id_cached,no_index for the targets. */
    candidates: names ? CANDIDATES.filter((c) => names.includes(c.name)) : CANDIDATES,
    /** Writes results/schema-<tag>.* instead of schema-latest.* (which powerhouse plan calibrates from). */
    tag: text('--tag'),
  };
}

/**
 * A binary COPY file streamed as it is (the SDK encodes rows to this body on the desktop; its uploadFile takes
 * only CSV, TSV and NDJSON files). One idempotency key per upload, as the SDK sends.
 */
async function uploadPgcopy(baseUrl: string, token: string, file: string, key: string): Promise<void> {
  const r = await uploadRawFile({
    baseUrl,
    token,
    table: 'tm_entries',
    format: 'pgcopy',
    file,
    columns: TM_COLUMNS,
    idempotencyKey: `bench-schema-${process.pid}-${key}`,
  });
  if (!r.ok) throw new Error(`pgcopy upload of ${file}: ${r.status} ${r.error ?? ''}`);
}

async function main(): Promise<void> {
  const { users, rows, singleRows, rounds, candidates, tag } = parseArgs(process.argv.slice(2));
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const work = benchWorkDir('schema');
  log(`starting PostgreSQL (tier for ${users} users); generating ${users} × ${rows} rows twice`);
  const stack = await startBenchStack(path.join(work, 'stack'), users);
  try {
    const ctx = await openContext(stack, work, log);
    // Every upload's rows in both bodies, written in one pass: the text and the binary file hold the same rows.
    const files: Record<Workload, { tsv: string; pgcopy: string }[]> = { own: [], shared: [], single: [] };
    const write = (name: string, gen: Iterable<TmRow>) => {
      const set = writeRowFiles(work, name, gen, ['tsv', 'pgcopy']);
      return { tsv: set.tsv!.path, pgcopy: set.pgcopy!.path };
    };
    files.single.push(write('single', tmRows(999, singleRows, 0)));
    for (let u = 0; u < users; u++)
      for (const w of ['own', 'shared'] as const) {
        const tmId = w === 'own' ? 1000 + u : 7;
        const gen = (function* (): Generator<TmRow> {
          for (const r of tmRows(u + 1, rows, 0)) yield { ...r, tmId };
        })();
        files[w].push(write(`${w}-${u}`, gen));
      }
    const results: Record<string, Record<string, number[]>> = {};
    const events: Record<string, Record<string, Map<string, number>>> = {};
    for (let round = 0; round < rounds; round++) {
      // Rotating order: no candidate is always first (fresh caches) or last (a warm, busier disk).
      const all: (Candidate | Endpoint)[] = [...candidates, ...ENDPOINTS];
      const order = all.map((_, i) => all[(i + round) % all.length]);
      for (const cand of order)
        for (const w of WORKLOADS) {
          if (w === 'single' && !SINGLE.has(cand.name)) continue;
          const endpoint = 'body' in cand;
          const table = endpoint ? 'public.tm_entries' : TABLE;
          if (endpoint) {
            await ctx.admin.query('TRUNCATE public.tm_entries');
          } else {
            await ctx.admin.query(`DROP TABLE IF EXISTS ${TABLE} CASCADE`);
            await ctx.admin.query(cand.ddl(TABLE));
          }
          await ctx.admin.query('CHECKPOINT');
          await (endpoint ? beforeEndpointRun(ctx) : beforePsqlRun(ctx));
          const sampler = await waitEventSampler(stack.superuserUrl, endpoint);
          const t0 = performance.now();
          let ms = 0;
          try {
            await Promise.all(
              files[w].map((f, i) =>
                !endpoint
                  ? psqlCopy(
                      ctx.psqlConn,
                      TABLE,
                      TM_COLUMNS,
                      cand.format ? f.pgcopy : f.tsv,
                      cand.format ?? 'text',
                    )
                  : cand.body === 'tsv'
                    ? uploadFile(stack.ingestUrl, stack.tokens[i], 'tm_entries', f.tsv, {
                        format: 'tsv',
                        columns: [...TM_COLUMNS],
                      })
                    : uploadPgcopy(stack.ingestUrl, stack.tokens[i], f.pgcopy, `${w}-${round}-${i}`),
              ),
            );
          } finally {
            ms = performance.now() - t0; // before the sampler's last query, not after
            await sampler.stop();
          }
          const ev = sampler.counts;
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
  const rows = [...r.candidates, ...ENDPOINTS];
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
  const both = (e: string, base: string) =>
    `${x(med(e, 'own'), med(base, 'own'))} own, ${x(med(e, 'shared'), med(base, 'shared'))} shared`;
  const targets = (e: Endpoint) => [
    `- N = ${r.users} ${e.name} vs index-free ceiling: ${both(e.name, 'no_index')} (target ≥ 0.8×)`,
    `- N = ${r.users} ${e.name} vs psql(today): ${both(e.name, 'today')} (target ≥ 1.25×)`,
    `- N = ${r.users} ${e.name} vs psql(v4 = key_tm_id_cached): ${both(e.name, 'key_tm_id_cached')} (target ≥ 1.0×); ` +
      `vs psql(v4) of the binary file: ${both(e.name, 'key_tm_id_cached_binary')}`,
    `- one ${r.singleRows}-row upload ${e.name} vs psql(today): ${x(med(e.name, 'single'), med('today', 'single'))} (target ≥ 1.4×); ` +
      `vs psql(v4): ${x(med(e.name, 'single'), med('key_tm_id_cached', 'single'))}; ` +
      `vs psql(v4) of the binary file: ${x(med(e.name, 'single'), med('key_tm_id_cached_binary', 'single'))}`,
  ];
  lines.push(
    '',
    "Targets (issue 13, ratios on this machine, same run; psql's input is COPY text, its default, unless named binary):",
    '',
    ...targets(ENDPOINT),
    '',
    "The TSV body, text COPY like psql's:",
    '',
    ...targets(ENDPOINT_TSV),
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

// CSV and TSV parity with PostgreSQL 16: every body of the corpus (helpers/parity-corpus.ts, > 100 per
// format) is loaded twice from the same bytes, (a) with PostgreSQL's own COPY ... FROM STDIN (FORMAT csv /
// FORMAT text, HEADER MATCH when the body has a header) into a fresh table like the target, and (b) through
// the endpoint (real worker, real PgBouncer, real PostgreSQL). Both outcomes (stored or refused) and the
// stored rows (every column as PostgreSQL's text) must be the same, or the case must name an entry of the
// one deviation list (ingest/formats/deviations.ts) whose documented effect it shows. The same list is the
// "Known deviations" table of docs/INGEST-API.md, entry for entry. Controls show the test can fail.
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { ROLES } from '../../config-templates/names';
import { MEDIA_TYPES, quoteIdent } from '../../ingest/formats';
import { DEVIATIONS, deviationRows, type Deviation } from '../../ingest/formats/deviations';
import type { IngestServer } from '../../ingest/server';
import { stopAllTestServers } from '../harness';
import { TOKENS, request, startIngestStack, type IngestStack } from '../ingest/stack';
import {
  FIELD_LIMIT,
  PARITY_TYPES_SQL,
  parityCorpus,
  type ParityCase,
  type ParityFormat,
} from './helpers/parity-corpus';
import { judge, type Outcome, type Verdict } from './helpers/parity-judge';

jest.setTimeout(300_000);

const BY_ID: ReadonlyMap<string, Deviation> = new Map(DEVIATIONS.map((d) => [d.id, d]));
const CORPUS = parityCorpus();

let stack: IngestStack;
let worker: IngestServer;
let db: Client;

interface Result {
  c: ParityCase;
  pg: Outcome;
  endpoint: Outcome;
  verdict: Verdict;
}
const results: Result[] = [];

beforeAll(async () => {
  stack = await startIngestStack();
  await stack.sql(
    `${PARITY_TYPES_SQL};
     ALTER TABLE public.parity_types OWNER TO ${ROLES.owner};
     GRANT INSERT ON public.parity_types TO ${ROLES.ingest};`,
  );
  worker = await stack.startWorker({
    tables: ['tm_entries', 'file_rows', 'typed_rows', 'keyed', 'parity_types'].map((table) => ({ table })),
    limits: { maxFieldBytes: FIELD_LIMIT },
  });
  db = new Client({ connectionString: stack.superDbUrl });
  await db.connect();
}, 120_000);

afterAll(async () => {
  await db?.end();
  await worker?.close();
  await stopAllTestServers();
});

/** Every column of the case as PostgreSQL's text, in COPY order. */
function rowsQuery(c: ParityCase, from: string): string {
  return `SELECT ARRAY[${c.columns.map((n) => `${quoteIdent(n)}::text`).join(', ')}] AS v FROM ${from} ORDER BY id`;
}

async function viaCopy(c: ParityCase): Promise<Outcome> {
  const cols = c.columns.map(quoteIdent).join(', ');
  const options = `FORMAT ${c.format === 'csv' ? 'csv' : 'text'}${c.header ? ', HEADER MATCH' : ''}, ENCODING 'UTF8'`;
  await db.query('BEGIN');
  try {
    await db.query(`CREATE TEMP TABLE parity_copy (LIKE public.${c.table} INCLUDING ALL) ON COMMIT DROP`);
    await pipeline(
      Readable.from(c.body.length > 0 ? [c.body] : []),
      db.query(copyFrom(`COPY parity_copy (${cols}) FROM STDIN (${options})`)),
    );
    const { rows } = await db.query<{ v: (string | null)[] }>(rowsQuery(c, 'parity_copy'));
    return { accepted: true, rows: rows.map((r) => r.v), detail: `${rows.length} rows` };
  } catch (err) {
    return { accepted: false, detail: (err as Error).message };
  } finally {
    await db.query('ROLLBACK');
  }
}

async function viaEndpoint(c: ParityCase): Promise<Outcome> {
  const query = c.header ? '' : `?columns=${encodeURIComponent(c.columns.join(','))}`;
  const res = await request(worker.url, `/v1/tables/${c.table}/uploads${query}`, {
    token: TOKENS.writer,
    contentType: MEDIA_TYPES[c.format],
    body: c.body,
  });
  if (res.status !== 201) return { accepted: false, status: res.status, detail: `${res.status} ${res.text}` };
  const n = Number(res.body.rows);
  const latest = `(SELECT * FROM public.${c.table} ORDER BY id DESC LIMIT ${n}) latest`;
  const rows = n === 0 ? [] : (await db.query<{ v: (string | null)[] }>(rowsQuery(c, latest))).rows;
  return { accepted: true, status: 201, rows: rows.map((r) => r.v), detail: `201, ${n} rows` };
}

async function runFormat(format: ParityFormat): Promise<Result[]> {
  const mine: Result[] = [];
  for (const c of CORPUS.filter((x) => x.format === format)) {
    const pg = await viaCopy(c);
    const endpoint = await viaEndpoint(c);
    const r = { c, pg, endpoint, verdict: judge(c, pg, endpoint, BY_ID) };
    mine.push(r);
    results.push(r);
  }
  return mine;
}

function problems(rs: Result[]): string[] {
  return rs.filter((r) => r.verdict.problem).map((r) => `${r.c.id}: ${r.verdict.problem}`);
}

/** Per format: cases, same (both stored the same rows / both refused), deviation (by entry). */
function parityTable(): string {
  const lines = ['format | cases | same (stored / refused) | deviation', '--- | --- | --- | ---'];
  for (const f of ['csv', 'tsv'] as const) {
    const rs = results.filter((r) => r.c.format === f);
    const same = rs.filter((r) => !r.c.deviation);
    const stored = same.filter((r) => r.pg.accepted).length;
    const dev = new Map<string, number>();
    for (const r of rs) if (r.c.deviation) dev.set(r.c.deviation, (dev.get(r.c.deviation) ?? 0) + 1);
    const detail = [...dev].map(([id, n]) => `${id} ${n}`).join(', ');
    lines.push(
      `${f.toUpperCase()} | ${rs.length} | ${same.length} (${stored} / ${same.length - stored}) | ${rs.length - same.length} (${detail})`,
    );
  }
  return lines.join('\n');
}

describe.each(['csv', 'tsv'] as const)('%s', (format) => {
  it(`every case is what COPY (FORMAT ${format === 'csv' ? 'csv' : 'text'}) does, or a listed deviation`, async () => {
    const rs = await runFormat(format);
    expect(rs.length).toBeGreaterThanOrEqual(100);
    expect(problems(rs)).toEqual([]);
  });
});

it('every CSV/TSV deviation with an observable effect is shown by a case of each of its formats', () => {
  const missing: string[] = [];
  for (const d of DEVIATIONS) {
    if (d.effects.length === 0) continue;
    for (const f of d.formats.filter((x): x is ParityFormat => x === 'csv' || x === 'tsv')) {
      const shown = results.some((r) => r.c.format === f && r.c.deviation === d.id && !r.verdict.problem);
      if (!shown) missing.push(`${d.id} (${f})`);
    }
  }
  expect(missing).toEqual([]);
});

it('fails when a deviation is taken off the list, or a listed one makes no difference (controls)', () => {
  const shown = results.filter((r) => r.c.deviation && !r.verdict.problem);
  expect(new Set(shown.map((r) => r.c.deviation)).size).toBeGreaterThanOrEqual(5);
  for (const r of shown) {
    // Positive control: the same observed outcomes, judged with the entry removed from the list.
    const without = new Map(BY_ID);
    without.delete(r.c.deviation!);
    expect(judge(r.c, r.pg, r.endpoint, without).problem).toMatch(/which the list does not have/);
    expect(judge({ ...r.c, deviation: undefined }, r.pg, r.endpoint, BY_ID).problem).toMatch(
      /differs from COPY .* but names no deviation/,
    );
  }
  // Negative control: a case that comes out the same cannot claim a deviation ...
  const same = results.find((r) => !r.c.deviation && r.pg.accepted && (r.pg.rows?.length ?? 0) > 0)!;
  expect(judge({ ...same.c, deviation: 'utf8-bom' }, same.pg, same.endpoint, BY_ID).problem).toMatch(
    /but COPY and the endpoint agree/,
  );
  // ... and one stored value changed is a difference.
  const changed = { ...same.endpoint, rows: same.endpoint.rows!.map((row) => row.map((v) => `${v}x`)) };
  expect(judge(same.c, same.pg, changed, BY_ID)).toMatchObject({ effect: 'rows-differ' });
  expect(judge(same.c, same.pg, changed, BY_ID).problem).toMatch(/names no deviation/);
  console.log(`CSV/TSV parity with PostgreSQL 16 COPY\n${parityTable()}`);
});

it('docs/INGEST-API.md has the deviation list as its "Known deviations" table, entry for entry', () => {
  const doc = fs.readFileSync(path.join(__dirname, '../../docs/INGEST-API.md'), 'utf8');
  const start = doc.indexOf('\n## Known deviations');
  expect(start).toBeGreaterThan(0);
  const end = doc.indexOf('\n## ', start + 1);
  const section = doc.slice(start, end < 0 ? undefined : end);
  const cells = (line: string): string[] =>
    line
      .trim()
      .replace(/^\||\|$/g, '')
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim().replace(/\\\|/g, '|'));
  const table = section.split('\n').filter((l) => l.trim().startsWith('|'));
  expect(cells(table[0])).toEqual(['where', 'formats', 'PostgreSQL 16 COPY', 'the worker', 'why']);
  expect(table.slice(2).map(cells)).toEqual(deviationRows());
});

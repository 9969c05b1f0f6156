// The benchmark's inputs are what it says they are: the generator is deterministic and carries the awkward
// characters, every data file (TSV, CSV, NDJSON, pgcopy) holds exactly the generated rows when a real
// PostgreSQL 16 reads it (psql \copy for TSV and pgcopy, as the baseline does), and every direct method
// stores exactly those rows.
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { tmTableDdl } from '../../bench/bench-context';
import { copyRows, insertRows } from '../../bench/direct-methods';
import { connectionFromUrl, psqlCopy } from '../../bench/psql-copy';
import { encodeAll } from '../../bench/row-encoders';
import { writeRowFiles, type RowFileSet } from '../../bench/row-files';
import { TM_COLUMNS, tmRows, type TmRow } from '../../ingest/client/tm-rows';
import { makeTestDir, startTestPostgres, stopAllTestServers, type TestPostgres } from '../harness';

afterAll(stopAllTestServers);

const ROWS = Array.from(tmRows(7, 1500, 2));

describe('TM row generator', () => {
  it('gives the same rows for the same seed and stream, other rows for another stream', () => {
    expect(Array.from(tmRows(7, 1500, 2))).toEqual(ROWS);
    const other = Array.from(tmRows(7, 50, 3));
    expect(other.map((r) => r.source)).not.toEqual(ROWS.slice(0, 50).map((r) => r.source));
    expect(new Set(other.map((r) => r.tmId)).size).toBeGreaterThan(1);
  });

  it('holds ~200-byte rows with multi-byte text, emoji, NULLs and characters every format must escape', () => {
    const tsvBytes = encodeAll('tsv', ROWS).length;
    expect(tsvBytes / ROWS.length).toBeGreaterThan(150);
    expect(tsvBytes / ROWS.length).toBeLessThan(250);
    const all = ROWS.flatMap((r) => [r.source, r.target]);
    expect(all.some((t) => /[\u0600-\u06ff]/.test(t))).toBe(true); // Arabic (RTL)
    expect(all.some((t) => /[\u3040-\u30ff\u4e00-\u9fff]/.test(t))).toBe(true); // Japanese
    expect(all.some((t) => /\p{Extended_Pictographic}/u.test(t))).toBe(true);
    for (const special of ['\t', '\n', '\\', '"']) expect(all.some((t) => t.includes(special))).toBe(true);
    expect(ROWS.some((r) => r.createdBy === null)).toBe(true);
  });
});

describe('data files and direct methods against PostgreSQL 16', () => {
  let pg: TestPostgres;
  let client: Client;
  let files: RowFileSet;

  beforeAll(async () => {
    pg = await startTestPostgres();
    client = new Client({ connectionString: pg.url });
    await client.connect();
    const dir = makeTestDir('powerhouse-bench-files-').dir;
    files = writeRowFiles(dir, 'rows', ROWS, ['tsv', 'csv', 'ndjson', 'pgcopy']);
  }, 120_000);

  afterAll(async () => {
    await client?.end();
  });

  let n = 0;
  async function freshTable(): Promise<string> {
    const name = `t${++n}`;
    await client.query(tmTableDdl(name, `${name}_tm_id_idx`));
    return name;
  }

  async function stored(table: string): Promise<TmRow[]> {
    const r = await client.query<{
      tm_id: string;
      source: string;
      target: string;
      created_by: string | null;
    }>(`SELECT tm_id, source, target, created_by FROM ${table} ORDER BY id`);
    return r.rows.map((x) => ({
      tmId: Number(x.tm_id),
      source: x.source,
      target: x.target,
      createdBy: x.created_by,
    }));
  }

  it('every file reports the same row count', () => {
    for (const f of Object.values(files)) expect(f!.rows).toBe(ROWS.length);
  });

  it('psql \\copy of the TSV file stores exactly the generated rows', async () => {
    const t = await freshTable();
    const r = await psqlCopy(connectionFromUrl(pg.url), t, TM_COLUMNS, files.tsv!.path, 'text');
    expect(r.rows).toBe(ROWS.length);
    expect(await stored(t)).toEqual(ROWS);
  });

  it('psql \\copy of the pgcopy file (binary) stores exactly the generated rows', async () => {
    const t = await freshTable();
    await psqlCopy(connectionFromUrl(pg.url), t, TM_COLUMNS, files.pgcopy!.path, 'binary');
    expect(await stored(t)).toEqual(ROWS);
  });

  it('COPY … (FORMAT csv) of the CSV file stores exactly the generated rows', async () => {
    const t = await freshTable();
    const copy = client.query(copyFrom(`COPY ${t} (${TM_COLUMNS.join(', ')}) FROM STDIN WITH (FORMAT csv)`));
    await pipeline(fs.createReadStream(files.csv!.path), copy);
    expect(await stored(t)).toEqual(ROWS);
  });

  it('the NDJSON file holds one object per row, keyed by column', () => {
    const lines = fs.readFileSync(files.ndjson!.path, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(
      parsed.map((o) => ({ tmId: o.tm_id, source: o.source, target: o.target, createdBy: o.created_by })),
    ).toEqual(ROWS);
  });

  it('psql \\copy fails with psql’s message when the file does not fit the table', async () => {
    await client.query('CREATE TABLE narrow (tm_id bigint)');
    await expect(psqlCopy(connectionFromUrl(pg.url), 'narrow', ['tm_id'], files.tsv!.path)).rejects.toThrow(
      /extra data|psql \\copy/,
    );
  });

  it.each([
    ['binary COPY', (t: string) => copyRows(client, t, ROWS, 'binary')],
    ['text COPY', (t: string) => copyRows(client, t, ROWS, 'text')],
    ['text COPY with chunks smaller than a row', (t: string) => copyRows(client, t, ROWS, 'text', 64)],
    ['multi-row INSERT', (t: string) => insertRows(client, t, ROWS, 400)],
  ])('%s stores exactly the generated rows', async (_name, load) => {
    const t = await freshTable();
    const ms = await load(t);
    expect(ms).toBeGreaterThan(0);
    expect(await stored(t)).toEqual(ROWS);
  });

  it('single-row INSERT stores exactly the rows it was given', async () => {
    const t = await freshTable();
    await insertRows(client, t, ROWS.slice(0, 60), 1);
    expect(await stored(t)).toEqual(ROWS.slice(0, 60));
  });

  it('a failed COPY rolls back: nothing stored', async () => {
    const t = await freshTable();
    const bad = [...ROWS.slice(0, 10), { ...ROWS[10], source: null as unknown as string }];
    await expect(copyRows(client, t, bad, 'binary')).rejects.toThrow(/null value|not-null/);
    expect(await stored(t)).toEqual([]);
  });

  it("encodeAll('pgcopy') makes a complete COPY body (header, tuples, trailer) PostgreSQL accepts", async () => {
    const t = await freshTable();
    const copy = client.query(
      copyFrom(`COPY ${t} (${TM_COLUMNS.join(', ')}) FROM STDIN WITH (FORMAT binary)`),
    );
    await pipeline(Readable.from([encodeAll('pgcopy', ROWS.slice(0, 5))]), copy);
    expect(await stored(t)).toEqual(ROWS.slice(0, 5));
  });
});

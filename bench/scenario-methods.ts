// Scenario 1: the same rows loaded straight into PostgreSQL by each method, each into a fresh table with
// tm_entries' shape (identity PK + index on tm_id), compared with `psql \copy` in the same run.
import { Client } from 'pg';
import { expectRows, tmTableDdl, type BenchContext } from './bench-context';
import { copyRows, insertRows } from './direct-methods';
import { psqlCopy } from './psql-copy';
import type { MethodResult, Throughput } from './report-types';
import { TM_COLUMNS, type TmRow } from '../ingest/client/tm-rows';

export interface MethodsInput {
  rows: readonly TmRow[];
  /** The same rows as files, for psql. */
  tsvFile: string;
  pgcopyFile: string;
  /** Size of the rows in COPY text form (the MB/s yardstick). */
  tsvBytes: number;
  insertBatch: number;
  /** Single-row INSERT runs on the first this-many rows only (it is slow). */
  singleInsertRows: number;
}

const SCHEMA = 'bench';

export function throughput(rows: number, ms: number, bytesPerRow: number): Throughput {
  const s = ms / 1000;
  return {
    rows,
    ms: Math.round(ms),
    rowsPerSec: Math.round(rows / s),
    mbPerSec: Math.round((rows * bytesPerRow) / s / 1e4) / 100,
  };
}

export async function runMethods(ctx: BenchContext, input: MethodsInput): Promise<MethodResult[]> {
  const { admin } = ctx;
  const bytesPerRow = input.tsvBytes / input.rows.length;
  await admin.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
  const client = new Client({ connectionString: ctx.stack.superuserUrl, application_name: 'bench-methods' });
  await client.connect();
  const results: MethodResult[] = [];
  const n = input.rows.length;
  const sample = input.rows.slice(0, Math.min(n, input.singleInsertRows));

  const methods: {
    id: string;
    label: string;
    rows: number;
    note?: string;
    run: (table: string) => Promise<number>;
  }[] = [
    {
      id: 'psql-copy',
      label: 'psql \\copy (text, baseline)',
      rows: n,
      run: async (t) => (await psqlCopy(ctx.psqlConn, t, TM_COLUMNS, input.tsvFile, 'text')).ms,
    },
    {
      id: 'psql-copy-binary',
      label: 'psql \\copy (binary file)',
      rows: n,
      run: async (t) => (await psqlCopy(ctx.psqlConn, t, TM_COLUMNS, input.pgcopyFile, 'binary')).ms,
    },
    {
      id: 'binary-copy',
      label: 'binary COPY (our encoder, 64 KiB chunks)',
      rows: n,
      run: (t) => copyRows(client, t, input.rows, 'binary'),
    },
    {
      id: 'text-copy',
      label: 'text COPY (COPY text format, 64 KiB chunks)',
      rows: n,
      run: (t) => copyRows(client, t, input.rows, 'text'),
    },
    {
      id: 'multi-row-insert',
      label: `multi-row INSERT (${input.insertBatch} rows/statement)`,
      rows: n,
      run: (t) => insertRows(client, t, input.rows, input.insertBatch),
    },
    {
      id: 'single-row-insert',
      label: 'single-row INSERT (one transaction)',
      rows: sample.length,
      note: `first ${sample.length} rows only; one prepared INSERT per row, one round trip each`,
      run: (t) => insertRows(client, t, sample, 1),
    },
  ];

  try {
    for (const m of methods) {
      const table = `${SCHEMA}.m_${m.id.replace(/-/g, '_')}`;
      await admin.query(`DROP TABLE IF EXISTS ${table}`);
      await admin.query(tmTableDdl(table, `m_${m.id.replace(/-/g, '_')}_pkey`));
      await admin.query('CHECKPOINT');
      ctx.log(`methods: ${m.label} (${m.rows} rows)`);
      const ms = await m.run(table);
      await expectRows(ctx, table, m.rows, m.label);
      await admin.query(`DROP TABLE ${table}`);
      results.push({
        id: m.id,
        label: m.label,
        ...throughput(m.rows, ms, bytesPerRow),
        ratioToPsql: null,
        note: m.note,
      });
    }
  } finally {
    await client.end().catch(() => undefined);
  }
  const base = results.find((r) => r.id === 'psql-copy');
  for (const r of results)
    r.ratioToPsql = base ? Math.round((r.rowsPerSec / base.rowsPerSec) * 100) / 100 : null;
  return results;
}

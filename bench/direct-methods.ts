// Ways to load the same rows straight into PostgreSQL (no worker, no PgBouncer), each timed from the first
// statement to COMMIT: the comparison behind "COPY is 5–10× faster than INSERT".
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createRowEncoder, type RowFormat } from './row-encoders';
import { TM_COLUMNS, type TmRow } from '../ingest/client/tm-rows';

const COLS = TM_COLUMNS.join(', ');

/** COPY chunk size: pg-copy-streams is ~10× slower with one write per row than with >= 64 KiB writes. */
export const COPY_CHUNK_BYTES = 64 * 1024;

function* chunks(format: RowFormat, rows: readonly TmRow[], chunkBytes: number): Generator<Buffer> {
  const enc = createRowEncoder(format, chunkBytes);
  for (const row of rows) {
    enc.add(row);
    const c = enc.take();
    if (c) yield c;
  }
  const rest = enc.finish();
  if (rest.length > 0) yield rest;
}

/**
 * COPY FROM STDIN inside BEGIN … COMMIT, rows encoded on the fly by the project's encoders (binary: the
 * pgcopy encoder; text: COPY text format) into >= 64 KiB chunks, with backpressure.
 */
export async function copyRows(
  client: Client,
  table: string,
  rows: readonly TmRow[],
  format: 'binary' | 'text',
  chunkBytes = COPY_CHUNK_BYTES,
): Promise<number> {
  const options = format === 'binary' ? 'FORMAT binary' : "FORMAT text, ENCODING 'UTF8'";
  const t0 = performance.now();
  await client.query('BEGIN');
  try {
    const copy = client.query(copyFrom(`COPY ${table} (${COLS}) FROM STDIN WITH (${options})`));
    await pipeline(Readable.from(chunks(format === 'binary' ? 'pgcopy' : 'tsv', rows, chunkBytes)), copy);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return performance.now() - t0;
}

function insertSql(table: string, n: number): string {
  const tuples: string[] = [];
  for (let i = 0; i < n; i++) {
    const b = i * 4;
    tuples.push(`($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4})`);
  }
  return `INSERT INTO ${table} (${COLS}) VALUES ${tuples.join(', ')}`;
}

/**
 * Parameterized INSERTs of `batch` rows each (prepared once per batch size), all in one transaction: the
 * best an ORM-style loader does. 5000 rows × 4 columns stays under the 65535-parameter limit.
 */
export async function insertRows(
  client: Client,
  table: string,
  rows: readonly TmRow[],
  batch: number,
): Promise<number> {
  if (batch * TM_COLUMNS.length > 65535)
    throw new Error(`insertRows: batch ${batch} exceeds 65535 parameters`);
  const t0 = performance.now();
  await client.query('BEGIN');
  try {
    const prepared = new Map<number, { name: string; text: string }>();
    for (let i = 0; i < rows.length; i += batch) {
      const slice = rows.slice(i, i + batch);
      let stmt = prepared.get(slice.length);
      if (!stmt) {
        stmt = {
          name: `bench_insert_${table.replace(/\W/g, '_')}_${slice.length}`,
          text: insertSql(table, slice.length),
        };
        prepared.set(slice.length, stmt);
      }
      const values: unknown[] = new Array(slice.length * 4);
      for (let j = 0; j < slice.length; j++) {
        const r = slice[j];
        values[j * 4] = r.tmId;
        values[j * 4 + 1] = r.source;
        values[j * 4 + 2] = r.target;
        values[j * 4 + 3] = r.createdBy;
      }
      await client.query({ name: stmt.name, text: stmt.text, values });
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return performance.now() - t0;
}

// uploadRows: rows held by the app (arrays or objects, from an array, a generator, an async iterable or an
// object-mode stream) -> binary COPY encoded here, with the worker's own encoder -> one streamed upload.
import { Readable } from 'node:stream';
import { counted } from '../../config-templates/plural';
import type { ColumnInfo } from '../formats/columns';
import { MEDIA_TYPES } from '../formats/content-type';
import { RowError } from '../formats/errors';
import { binaryCopySupported, PgCopyRowEncoder } from '../formats/pgcopy-encoder';
import { OneShotSource, reiterableSource, SpooledSource, type BodySource } from './body-source';
import { BodySpool, type BodyChunk } from './body-spool';
import { describeTable } from './describe-table';
import {
  authHeaders,
  checkIdempotencyKey,
  endpointUrl,
  sendUpload,
  type UploadCallOptions,
  type UploadResult,
} from './send-upload';
import {
  chooseColumns,
  toColumnInfo,
  UploadInputError,
  type SchemaColumn,
  type TableSchema,
} from './table-schema';

/** Values in column order, or an object keyed by column name. null and undefined are NULL. */
export type UploadRow = readonly unknown[] | Readonly<Record<string, unknown>>;
export type RowSource = Iterable<UploadRow> | AsyncIterable<UploadRow> | Readable;

export interface UploadRowsOptions extends UploadCallOptions {
  /** Columns and types; default: asked from the worker (GET /v1/tables/{table}). */
  schema?: TableSchema;
  /**
   * The columns the rows hold, in order (required when rows are arrays that do not cover every writable
   * column). Default: for objects, the keys of the first row; for arrays, every writable column.
   * Columns left out take their table default.
   */
  columns?: readonly string[];
  /**
   * How a retry gets the rows again. 'auto' (default): arrays are encoded again, anything else (generators,
   * streams: readable once) is spooled to a temp file while the first attempt sends it. 'reiterate' for an
   * iterable that yields the same rows each time it is iterated; 'none' for no temp file and no retry once
   * rows have been read.
   */
  replay?: 'auto' | 'reiterate' | 'spool' | 'none';
  /** Directory of the spool file (default os.tmpdir()). It is removed when the call returns. */
  spoolDir?: string;
  /** Size of the body chunks (default 128 KiB). */
  chunkBytes?: number;
}

const DEFAULT_CHUNK_BYTES = 128 * 1024;

type RowIterator = Iterator<UploadRow> | AsyncIterator<UploadRow>;
interface OpenedRows {
  it: RowIterator;
  sync: boolean;
}

function openRows(rows: RowSource): OpenedRows {
  const r = rows as Partial<AsyncIterable<UploadRow> & Iterable<UploadRow>> | null;
  const asyncIt = r?.[Symbol.asyncIterator];
  if (typeof asyncIt === 'function') return { it: asyncIt.call(r), sync: false };
  const syncIt = r?.[Symbol.iterator];
  if (r && typeof r === 'object' && typeof syncIt === 'function') return { it: syncIt.call(r), sync: true };
  throw new TypeError(
    'rows must be an array, an (async) iterable or an object-mode Readable of arrays or objects',
  );
}

async function nextRow(o: OpenedRows): Promise<IteratorResult<UploadRow>> {
  return o.sync ? (o.it as Iterator<UploadRow>).next() : await (o.it as AsyncIterator<UploadRow>).next();
}

function closeRows(o: OpenedRows): void {
  try {
    const r = o.it.return?.();
    if (r && typeof (r as Promise<unknown>).catch === 'function')
      (r as Promise<unknown>).catch(() => undefined);
  } catch {
    // the source's own cleanup failed; nothing more to release
  }
}

function checkRow(row: unknown, n: number): void {
  if (row !== null && typeof row === 'object' && !ArrayBuffer.isView(row)) return;
  const what = row === null ? 'null' : ArrayBuffer.isView(row) ? 'a Buffer' : `a ${typeof row}`;
  throw new RowError(
    n,
    undefined,
    `row ${n} is ${what}, not an array or an object (file bytes go to uploadFile)`,
  );
}

/** Binary COPY: header, tuples in chunks, trailer. Closes the rows' iterator if stopped early. */
async function* pgcopyChunks(
  columns: ColumnInfo[],
  o: OpenedRows,
  first: IteratorResult<UploadRow>,
  chunkBytes: number,
): AsyncGenerator<BodyChunk> {
  const enc = new PgCopyRowEncoder(columns, { chunkBytes });
  enc.header();
  let r = first;
  let complete = false;
  try {
    while (!r.done) {
      checkRow(r.value, enc.rows + 1);
      enc.addRow(r.value);
      const data = enc.takeChunk();
      if (data) yield { data, rows: enc.rows };
      r = o.sync ? (o.it as Iterator<UploadRow>).next() : await (o.it as AsyncIterator<UploadRow>).next();
    }
    complete = true;
  } finally {
    if (!complete) closeRows(o);
  }
  enc.trailer();
  yield { data: enc.flush(), rows: enc.rows };
}

function jsonValue(_key: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

/**
 * NDJSON, for tables with a column type the binary encoder lacks (numeric, arrays, domains…): the worker
 * then parses and validates it (text COPY for those columns).
 */
async function* ndjsonChunks(
  names: string[],
  o: OpenedRows,
  first: IteratorResult<UploadRow>,
  chunkBytes: number,
): AsyncGenerator<BodyChunk> {
  let r = first;
  let rows = 0;
  let text = '';
  let complete = false;
  try {
    while (!r.done) {
      checkRow(r.value, rows + 1);
      let obj: unknown = r.value;
      if (Array.isArray(obj)) {
        if (obj.length !== names.length)
          throw new RowError(
            rows + 1,
            undefined,
            `row ${rows + 1}: ${counted(obj.length, 'value')} for ${counted(names.length, 'column')}`,
          );
        const rec: Record<string, unknown> = {};
        for (let i = 0; i < names.length; i++) rec[names[i]] = obj[i];
        obj = rec;
      }
      text += JSON.stringify(obj, jsonValue) + '\n';
      rows++;
      if (text.length >= chunkBytes) {
        yield { data: Buffer.from(text, 'utf8'), rows };
        text = '';
      }
      r = await nextRow(o);
    }
    complete = true;
  } finally {
    if (!complete) closeRows(o);
  }
  yield { data: Buffer.from(text, 'utf8'), rows };
}

function pickColumns(
  schema: TableSchema,
  table: string,
  names: readonly string[] | undefined,
  first: IteratorResult<UploadRow>,
): SchemaColumn[] {
  if (names) return chooseColumns(schema, names, 'all');
  if (first.done) return chooseColumns(schema, undefined, 'required');
  const row = first.value;
  const writable = schema.columns.map((c) => c.name).join(', ');
  if (Array.isArray(row)) {
    const all = chooseColumns(schema, undefined, 'all');
    if (row.length !== all.length)
      throw new UploadInputError(
        `rows are arrays of ${counted(row.length, 'value')} but ${table} has ${counted(all.length, 'writable column')} (${writable}): ` +
          `pass options.columns with the ${row.length} column names in order`,
      );
    return all;
  }
  if (row === null || typeof row !== 'object') return chooseColumns(schema, undefined, 'all'); // row 1 fails in the encoder
  const rec = row as Record<string, unknown>;
  const keys = Object.keys(rec).filter((k) => rec[k] !== undefined);
  const known = new Set(schema.columns.map((c) => c.name));
  const unknown = keys.filter((k) => !known.has(k));
  if (unknown.length > 0)
    throw new UploadInputError(
      `row 1: ${unknown.map((k) => JSON.stringify(k)).join(', ')} ${unknown.length === 1 ? 'is not a writable column' : 'are not writable columns'} of ${table} (writable: ${writable})`,
    );
  if (keys.length === 0)
    throw new UploadInputError(`row 1 has no keys (writable columns of ${table}: ${writable})`);
  const present = new Set(keys);
  return schema.columns.filter((c) => present.has(c.name));
}

function replayMode(rows: RowSource, opt: UploadRowsOptions['replay']): 'reiterate' | 'spool' | 'none' {
  const stream = rows instanceof Readable;
  if (opt === undefined || opt === 'auto') return Array.isArray(rows) ? 'reiterate' : 'spool';
  if (opt === 'reiterate' && stream) throw new TypeError("replay: 'reiterate' is impossible for a stream");
  if (opt !== 'reiterate' && opt !== 'spool' && opt !== 'none')
    throw new TypeError(`replay: unknown mode ${String(opt)}`);
  return opt;
}

/**
 * Uploads rows to `table` as one transaction (all stored or none). Encodes binary COPY locally and streams
 * it with backpressure (memory stays flat whatever the number of rows); retries network errors and 503
 * with the same Idempotency-Key, so no row is ever stored twice.
 *
 * Throws UploadRowError (a bad row: row, column), UploadRejectedError (other 4xx/5xx: status, body),
 * UploadUnavailableError (retries exhausted), UploadAbortedError (signal), UploadInputError (rows or
 * columns that do not fit the table; nothing sent), TypeError (bad arguments).
 */
export async function uploadRows(
  endpoint: string,
  token: string,
  table: string,
  rows: RowSource,
  options: UploadRowsOptions = {},
): Promise<UploadResult> {
  const t0 = performance.now();
  endpointUrl(endpoint, '');
  authHeaders(token);
  const opts = { ...options, idempotencyKey: checkIdempotencyKey(options.idempotencyKey) };
  const mode = replayMode(rows, options.replay);
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (!(chunkBytes >= 1024)) throw new TypeError('chunkBytes must be at least 1024');
  const opened = openRows(rows);
  let source: BodySource | undefined;
  try {
    const schema = options.schema ?? (await describeTable(endpoint, token, table, opts));
    const first = await nextRow(opened);
    const cols = pickColumns(schema, table, options.columns, first);
    const infos = cols.map(toColumnInfo);
    const names = cols.map((c) => c.name);
    const binary = infos.every(binaryCopySupported);
    const encode = (o: OpenedRows, f: IteratorResult<UploadRow>) =>
      binary ? pgcopyChunks(infos, o, f, chunkBytes) : ndjsonChunks(names, o, f, chunkBytes);
    if (mode === 'reiterate') {
      let firstAttempt = true;
      source = reiterableSource(() => {
        if (firstAttempt) {
          firstAttempt = false;
          return encode(opened, first);
        }
        return (async function* () {
          const again = openRows(rows);
          yield* encode(again, await nextRow(again));
        })();
      });
    } else {
      const chunks = encode(opened, first);
      source =
        mode === 'spool'
          ? new SpooledSource(chunks, await BodySpool.create(options.spoolDir))
          : new OneShotSource(chunks);
    }
    const contentType = binary ? MEDIA_TYPES.pgcopy : MEDIA_TYPES.ndjson;
    // Rows in memory or from a generator come as fast as they are encoded; a stream may trickle.
    const readAhead = !(rows instanceof Readable) && Symbol.iterator in Object(rows);
    return await sendUpload(
      { endpoint, token, table, contentType, columns: names, source, readAhead },
      opts,
      t0,
    );
  } finally {
    if (!source) closeRows(opened);
  }
}

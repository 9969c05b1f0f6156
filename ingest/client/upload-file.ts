// uploadFile: a CSV, TSV or NDJSON file -> one streamed upload. By default CSV and NDJSON are parsed and
// encoded here with the worker's own readers (createCopyEncoder): binary COPY, or text COPY when the table has
// a column whose input PostgreSQL itself must read (dates and times in CSV), so the worker only checks framing;
// TSV is already PostgreSQL's text COPY format and goes as it is. Every attempt re-opens the file.
import fs from 'node:fs';
import path from 'node:path';
import type { ColumnInfo } from '../formats/columns';
import { MEDIA_TYPES } from '../formats/content-type';
import { createCopyEncoder } from '../formats/copy-encoder';
import { BadRequestError, LimitError, RowError } from '../formats/errors';
import { reiterableSource } from './body-source';
import type { BodyChunk } from './body-spool';
import { describeTable } from './describe-table';
import { UploadRowError } from './errors';
import { lineOfRow, type FileFormat } from './file-row-line';
import {
  authHeaders,
  checkIdempotencyKey,
  endpointUrl,
  sendUpload,
  type UploadCallOptions,
  type UploadResult,
} from './send-upload';
import { toColumnInfo, UploadInputError, type TableSchema } from './table-schema';

export type { FileFormat };

export interface UploadFileOptions extends UploadCallOptions {
  /** Default: from the extension (.csv; .tsv/.tab; .ndjson/.jsonl). */
  format?: FileFormat;
  /**
   * 'local' (default): CSV/NDJSON are parsed, validated and encoded to binary COPY on this machine (a bad
   * row is found before the worker sees it); 'server': the file is sent as it is and the worker parses it.
   * TSV is always sent as it is.
   */
  parse?: 'local' | 'server';
  /** Columns and types for local parsing; default: asked from the worker (GET /v1/tables/{table}). */
  schema?: TableSchema;
  /**
   * The file's columns in order, when a CSV/TSV file has no header line (the first line is then data).
   * For NDJSON, the column set (default: the first object's keys).
   */
  columns?: readonly string[];
  /** Largest field accepted by the local parser (default 8 MiB, the worker's default limit). */
  maxFieldBytes?: number;
  /** Size of the body chunks (default 128 KiB). */
  chunkBytes?: number;
}

/** The file's format from `explicit` or its extension; TypeError when neither says. */
export function fileFormat(file: string, explicit?: string): FileFormat {
  if (explicit !== undefined) {
    if (explicit === 'csv' || explicit === 'tsv' || explicit === 'ndjson') return explicit;
    throw new TypeError(`format must be csv, tsv or ndjson, got ${JSON.stringify(explicit)}`);
  }
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.tsv' || ext === '.tab') return 'tsv';
  if (ext === '.ndjson' || ext === '.jsonl') return 'ndjson';
  throw new TypeError(
    `cannot tell the format of ${JSON.stringify(file)} from its extension: pass format (csv, tsv or ndjson)`,
  );
}

/** Counts line feeds: the row count of a file sent as it is, for progress only. */
function countLines(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(0x0a); i !== -1; i = buf.indexOf(0x0a, i + 1)) n++;
  return n;
}

async function* rawChunks(file: string, chunkBytes: number, header: boolean): AsyncGenerator<BodyChunk> {
  const input = fs.createReadStream(file, { highWaterMark: chunkBytes });
  let lines = header ? -1 : 0;
  let read = 0;
  try {
    for await (const data of input as AsyncIterable<Buffer>) {
      lines += countLines(data);
      read += data.length;
      yield { data, rows: Math.max(0, lines), inputBytes: read };
    }
  } finally {
    input.destroy();
  }
}

interface LocalEncoding {
  chunks: AsyncGenerator<BodyChunk>;
  columns: Promise<ColumnInfo[]>;
  copyFormat(): 'binary' | 'text';
}

/** The worker's reader for `format`, fed from the file; its output is a COPY body (binary or text). */
function encodeLocally(
  file: string,
  format: 'csv' | 'ndjson',
  tableColumns: ColumnInfo[],
  requested: readonly string[] | undefined,
  maxFieldBytes: number,
  chunkBytes: number,
): LocalEncoding {
  const enc = createCopyEncoder({
    format,
    tableColumns,
    requestedColumns: requested ? [...requested] : undefined,
    maxFieldBytes,
    chunkBytes,
  });
  const input = fs.createReadStream(file, { highWaterMark: 256 * 1024 });
  let read = 0;
  input.on('data', (d: Buffer | string) => {
    read += d.length;
  });
  input.on('error', (err) => enc.transform.destroy(err));
  // A bad row can fail the transform before anyone iterates it; the iterator then rethrows stream.errored.
  enc.transform.on('error', () => undefined);
  input.pipe(enc.transform);
  const chunks = (async function* () {
    try {
      for await (const data of enc.transform as AsyncIterable<Buffer>)
        yield { data, rows: enc.rowsSeen(), inputBytes: read };
    } finally {
      input.destroy();
      enc.transform.destroy();
    }
  })();
  return { chunks, columns: enc.columns, copyFormat: () => enc.copyFormat };
}

/**
 * Uploads a CSV/TSV/NDJSON file to `table` as one transaction (all rows or none), streaming it (memory stays
 * flat whatever its size), with the retries and errors of uploadRows. An UploadRowError carries the `file`
 * and the `line` where the bad row starts.
 */
export async function uploadFile(
  endpoint: string,
  token: string,
  table: string,
  file: string,
  options: UploadFileOptions = {},
): Promise<UploadResult> {
  const t0 = performance.now();
  endpointUrl(endpoint, '');
  authHeaders(token);
  const opts = { ...options, idempotencyKey: checkIdempotencyKey(options.idempotencyKey) };
  const format = fileFormat(file, options.format);
  const stat = await fs.promises.stat(file);
  if (!stat.isFile()) throw new TypeError(`${file} is not a regular file`);
  const chunkBytes = options.chunkBytes ?? 128 * 1024;
  const header = format !== 'ndjson' && !options.columns;
  const local = (options.parse ?? 'local') === 'local' && format !== 'tsv';
  try {
    if (!local) {
      return await sendUpload(
        {
          endpoint,
          token,
          table,
          contentType: MEDIA_TYPES[format],
          columns: options.columns,
          headers: { 'Content-Length': String(stat.size) },
          fileSize: stat.size,
          source: reiterableSource(() => rawChunks(file, chunkBytes, header)),
        },
        opts,
        t0,
      );
    }
    const schema = options.schema ?? (await describeTable(endpoint, token, table, opts));
    const tableColumns = schema.columns.map(toColumnInfo);
    const maxFieldBytes = options.maxFieldBytes ?? 8 * 1024 * 1024;
    const open = () =>
      encodeLocally(
        file,
        format as 'csv' | 'ndjson',
        tableColumns,
        options.columns,
        maxFieldBytes,
        chunkBytes,
      );
    // The first attempt's pipeline is started here: the target columns come from the header (or first object).
    const first = open();
    let columns: ColumnInfo[];
    try {
      columns = await first.columns;
    } catch (err) {
      await first.chunks.return(undefined);
      throw err;
    }
    let used = false;
    const source = reiterableSource(() => {
      if (!used) {
        used = true;
        return first.chunks;
      }
      return open().chunks;
    });
    return await sendUpload(
      {
        endpoint,
        token,
        table,
        contentType: MEDIA_TYPES[first.copyFormat() === 'binary' ? 'pgcopy' : 'tsv'],
        columns: columns.map((c) => c.name),
        fileSize: stat.size,
        readAhead: true,
        source,
      },
      opts,
      t0,
    );
  } catch (err) {
    throw await withFileLine(localError(err), file, format, header);
  }
}

/** Errors thrown by the readers before the request started, as the SDK's own. */
function localError(err: unknown): unknown {
  if (err instanceof RowError || (err instanceof LimitError && err.row !== undefined))
    return new UploadRowError(err.row!, err.column, err.message, 'client');
  if (err instanceof BadRequestError || err instanceof LimitError) return new UploadInputError(err.message);
  return err;
}

async function withFileLine(
  err: unknown,
  file: string,
  format: FileFormat,
  header: boolean,
): Promise<unknown> {
  if (!(err instanceof UploadRowError)) return err;
  err.file = file;
  err.line = await lineOfRow(file, format, err.row, header).catch(() => undefined);
  return err;
}

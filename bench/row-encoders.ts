// The generated TM rows in each upload format, as chunked buffers: written once per run to files (the
// uploads and `psql \copy` read the same bytes) and used directly by the in-process COPY methods.
// pgcopy goes through the project's binary encoder; the text formats through its CopyWriter.
import type { ColumnInfo } from '../ingest/formats/columns';
import { MEDIA_TYPES } from '../ingest/formats/content-type';
import { CopyWriter } from '../ingest/formats/copy-writer';
import { PgCopyRowEncoder } from '../ingest/formats/pgcopy-encoder';
import type { TmRow } from '../ingest/client/tm-rows';

export type RowFormat = 'tsv' | 'csv' | 'ndjson' | 'pgcopy';
export const ROW_FORMATS: readonly RowFormat[] = ['tsv', 'csv', 'ndjson', 'pgcopy'];

/** Content-Type of each format in the ingest API (the worker's own table). */
export const CONTENT_TYPES: Readonly<Record<RowFormat, string>> = MEDIA_TYPES;

/** tm_entries' writable columns as the catalog reports them (the identity id and created_at default). */
export const TM_COLUMN_INFO: readonly ColumnInfo[] = [
  { name: 'tm_id', type: 'int8', typeOid: 20, nullable: false, hasDefault: false },
  { name: 'source', type: 'text', typeOid: 25, nullable: false, hasDefault: false },
  { name: 'target', type: 'text', typeOid: 25, nullable: false, hasDefault: false },
  { name: 'created_by', type: 'text', typeOid: 25, nullable: true, hasDefault: false },
];

export interface RowChunkEncoder {
  add(row: TmRow): void;
  /** Buffered bytes once at least the chunk size is reached, else null. */
  take(): Buffer | null;
  /** The rest, including the format's trailer (pgcopy). */
  finish(): Buffer;
}

const TAB = 0x09;
const NEWLINE = 0x0a;
const CSV_NEEDS_QUOTES = /[",\r\n]/;

function csvField(v: string): string {
  return CSV_NEEDS_QUOTES.test(v) || v === '' ? `"${v.replace(/"/g, '""')}"` : v;
}

class TextEncoder implements RowChunkEncoder {
  private readonly w: CopyWriter;
  constructor(
    chunkBytes: number,
    private readonly line: (w: CopyWriter, row: TmRow) => void,
  ) {
    this.w = new CopyWriter(chunkBytes);
  }
  add(row: TmRow): void {
    this.line(this.w, row);
  }
  take(): Buffer | null {
    return this.w.full ? this.w.take() : null;
  }
  finish(): Buffer {
    return this.w.take();
  }
}

/** PostgreSQL COPY text format: tab-separated, backslash escapes, \N for NULL. */
function tsvLine(w: CopyWriter, r: TmRow): void {
  w.ascii(String(r.tmId));
  w.ensure(1);
  w.byte(TAB);
  w.escapedString(r.source);
  w.ensure(1);
  w.byte(TAB);
  w.escapedString(r.target);
  w.ensure(4);
  w.byte(TAB);
  if (r.createdBy === null) w.ascii('\\N');
  else w.escapedString(r.createdBy);
  w.ensure(1);
  w.byte(NEWLINE);
}

/** RFC 4180; NULL is an empty unquoted field (the ingest API's rule), an empty string is "". */
function csvLine(w: CopyWriter, r: TmRow): void {
  const by = r.createdBy === null ? '' : csvField(r.createdBy);
  w.utf8(`${r.tmId},${csvField(r.source)},${csvField(r.target)},${by}\n`);
}

function ndjsonLine(w: CopyWriter, r: TmRow): void {
  w.utf8(JSON.stringify({ tm_id: r.tmId, source: r.source, target: r.target, created_by: r.createdBy }));
  w.ensure(1);
  w.byte(NEWLINE);
}

class PgCopyEncoder implements RowChunkEncoder {
  private readonly enc: PgCopyRowEncoder;
  private readonly values: unknown[] = [0, '', '', null];
  constructor(chunkBytes: number) {
    this.enc = new PgCopyRowEncoder(TM_COLUMN_INFO, { chunkBytes });
    this.enc.header();
  }
  add(r: TmRow): void {
    const v = this.values;
    v[0] = r.tmId;
    v[1] = r.source;
    v[2] = r.target;
    v[3] = r.createdBy;
    this.enc.addRow(v);
  }
  take(): Buffer | null {
    return this.enc.takeChunk();
  }
  finish(): Buffer {
    this.enc.trailer();
    return this.enc.flush();
  }
}

/** An encoder producing chunks of at least `chunkBytes` (pg-copy-streams wants >= 64 KiB writes). */
export function createRowEncoder(format: RowFormat, chunkBytes = 64 * 1024): RowChunkEncoder {
  switch (format) {
    case 'tsv':
      return new TextEncoder(chunkBytes, tsvLine);
    case 'csv':
      return new TextEncoder(chunkBytes, csvLine);
    case 'ndjson':
      return new TextEncoder(chunkBytes, ndjsonLine);
    case 'pgcopy':
      return new PgCopyEncoder(chunkBytes);
  }
}

/** All rows of one format in memory, chunked: for small inputs and tests. */
export function encodeAll(format: RowFormat, rows: Iterable<TmRow>, chunkBytes?: number): Buffer {
  const enc = createRowEncoder(format, chunkBytes);
  const parts: Buffer[] = [];
  for (const row of rows) {
    enc.add(row);
    const c = enc.take();
    if (c) parts.push(c);
  }
  parts.push(enc.finish());
  return Buffer.concat(parts);
}

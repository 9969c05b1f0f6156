// createCopyEncoder: request body bytes in, COPY data bytes out, for one upload.
//
// Usage (the server): pipe the body into `transform` right away; await `columns` (known after the CSV/TSV
// header or the first NDJSON object; immediately with ?columns= or for pgcopy); then read `copyFormat`,
// build the statement with copyStatement(), and pipe `transform` into the COPY stream. Commit only after
// `transform` has ended without error: every framing problem, including a body cut short, is an error.
import { Transform } from 'node:stream';
import { type ColumnInfo, resolveColumns, selectWritable } from './columns';
import { hasBinaryEncoder } from './column-types';
import type { UploadFormat } from './content-type';
import { CsvReader } from './csv-reader';
import { binaryUnder } from './field-codecs';
import { NdjsonReader } from './ndjson-reader';
import { PgcopyFramer } from './pgcopy-framer';
import type { FormatReader, ReaderContext } from './reader-context';
import { TsvFramer } from './tsv-framer';

export interface CopyEncoderOptions {
  format: UploadFormat;
  /** Columns of the table from the catalog, in table order. */
  tableColumns: ColumnInfo[];
  /** ?columns=a,b,c; else the CSV/TSV header line, the first NDJSON object's keys, or (pgcopy) all writable columns. */
  requestedColumns?: string[];
  /**
   * Largest field accepted (413 above), measured as the value will be stored: decoded bytes for NDJSON
   * strings, CSV fields (unquoted) and TSV fields (unescaped as PostgreSQL does), JSON text for NDJSON
   * json/jsonb values, the length word for pgcopy.
   */
  maxFieldBytes: number;
  /** Output is pushed in chunks of at least this many bytes (passthrough: input pieces >= 16 KiB as they are). */
  chunkBytes: number;
  /** Let uploads write GENERATED ALWAYS identity columns (COPY would accept the values). Default false. */
  allowIdentityAlways?: boolean;
}

export interface CopyEncoder {
  transform: Transform;
  /**
   * 'text' for TSV, and whenever a target column has no binary encoder (CSV: none for date/time types,
   * whose input PostgreSQL parses); final once `columns` resolved.
   */
  readonly copyFormat: 'binary' | 'text';
  columns: Promise<ColumnInfo[]>;
  rowsSeen(): number;
}

const UTF8_BOM = [0xef, 0xbb, 0xbf];

/** Removes a UTF-8 byte order mark at the very start, even when it arrives split across chunks. */
class BomStripper implements FormatReader {
  private head: number[] | null = [];

  constructor(private readonly inner: FormatReader) {}

  get rows(): number {
    return this.inner.rows;
  }

  write(chunk: Buffer): void {
    if (this.head === null) return this.inner.write(chunk);
    let i = 0;
    while (i < chunk.length && this.head.length < 3) {
      if (chunk[i] !== UTF8_BOM[this.head.length]) {
        // Not a BOM: hand back what was held, then the rest.
        const held = Buffer.from(this.head);
        this.head = null;
        if (held.length > 0) this.inner.write(held);
        return this.inner.write(i === 0 ? chunk : chunk.subarray(i));
      }
      this.head.push(chunk[i++]);
    }
    if (this.head.length === 3) {
      this.head = null;
      if (i < chunk.length) this.inner.write(chunk.subarray(i));
    }
  }

  end(): void {
    if (this.head !== null && this.head.length > 0) this.inner.write(Buffer.from(this.head));
    this.head = null;
    this.inner.end();
  }
}

export function createCopyEncoder(opts: CopyEncoderOptions): CopyEncoder {
  if (!(opts.maxFieldBytes > 0) || !(opts.chunkBytes > 0))
    throw new Error('maxFieldBytes and chunkBytes must be > 0');
  let resolveColumnsPromise!: (c: ColumnInfo[]) => void;
  let rejectColumns!: (err: unknown) => void;
  const columns = new Promise<ColumnInfo[]>((res, rej) => {
    resolveColumnsPromise = res;
    rejectColumns = rej;
  });
  // Nobody may be awaiting it when the body is bad; the transform's error reports the same failure.
  columns.catch(() => undefined);
  let known = false;
  let copyFormat: 'binary' | 'text' | undefined;

  let reader: FormatReader | undefined;
  let failure: unknown;
  const fail = (err: unknown): unknown => {
    if (!known) rejectColumns(err);
    reader = undefined;
    failure ??= err;
    return failure;
  };

  const transform: Transform = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (!reader) return cb(failure as Error);
      try {
        reader.write(chunk);
        cb();
      } catch (err) {
        cb(fail(err) as Error);
      }
    },
    flush(cb) {
      if (!reader) return cb(failure as Error);
      try {
        reader.end();
        if (!known) throw new Error('encoder ended without knowing its columns');
        cb();
      } catch (err) {
        cb(fail(err) as Error);
      }
    },
  });
  try {
    const sel = selectWritable(opts.tableColumns, opts.allowIdentityAlways);
    const requested = opts.requestedColumns
      ? resolveColumns(sel, opts.requestedColumns, '?columns=')
      : undefined;
    const ctx: ReaderContext = {
      sel,
      requested,
      maxFieldBytes: opts.maxFieldBytes,
      chunkBytes: opts.chunkBytes,
      columnsKnown(cols) {
        if (opts.format === 'tsv') copyFormat = 'text';
        else if (opts.format === 'pgcopy') copyFormat = 'binary';
        else if (opts.format === 'csv')
          copyFormat = cols.every((c) => binaryUnder(c, 'postgres')) ? 'binary' : 'text';
        else copyFormat = cols.every(hasBinaryEncoder) ? 'binary' : 'text';
        known = true;
        resolveColumnsPromise(cols);
        return copyFormat;
      },
      emit(chunk) {
        transform.push(chunk);
      },
    };
    switch (opts.format) {
      case 'ndjson':
        reader = new BomStripper(new NdjsonReader(ctx));
        break;
      case 'csv':
        reader = new BomStripper(new CsvReader(ctx));
        break;
      case 'tsv':
        reader = new BomStripper(new TsvFramer(ctx));
        break;
      case 'pgcopy':
        reader = new PgcopyFramer(ctx);
        break;
      default:
        throw new Error(`unknown upload format ${String(opts.format)}`);
    }
  } catch (err) {
    // e.g. ?columns= naming an unknown column: reported through `columns` and the first write.
    failure = err;
    rejectColumns(err);
  }

  const readerRef = reader;

  return {
    transform,
    get copyFormat(): 'binary' | 'text' {
      if (copyFormat === undefined) throw new Error('copyFormat is known once `columns` has resolved');
      return copyFormat;
    },
    columns,
    rowsSeen: () => readerRef?.rows ?? 0,
  };
}

// PostgreSQL binary COPY encoding of rows given as JS values: the worker's NDJSON/CSV path shares its field
// writers, and the desktop SDK uses this module alone to produce application/x-pgcopy bodies.
// Wire format (PostgreSQL docs, "COPY ... Binary Format"): 11-byte signature, int32 flags, int32 header
// extension length; per tuple int16 field count then per field int32 length (-1 = NULL) and the type's
// send() bytes; int16 -1 trailer. All integers big-endian.
import type { ColumnInfo } from './columns';
import { KIND_LABEL, TypeKind, typeKind } from './column-types';
import { CopyWriter } from './copy-writer';
import { FieldError, RowError, quoteForMessage } from './errors';
import { binaryFieldWriter, type FieldWriter } from './field-codecs';
import { integerFromValue } from './parse-integer';

export const PGCOPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** Signature, flags 0 (no OIDs), no header extension. */
export const PGCOPY_HEADER = Buffer.concat([PGCOPY_SIGNATURE, Buffer.alloc(8)]);
export const PGCOPY_TRAILER = Buffer.from([0xff, 0xff]);

export function pgcopyHeader(): Buffer {
  return Buffer.from(PGCOPY_HEADER);
}

export function pgcopyTrailer(): Buffer {
  return Buffer.from(PGCOPY_TRAILER);
}

/** Whether a column can be encoded to binary COPY by this module. */
export function binaryCopySupported(col: Pick<ColumnInfo, 'type' | 'typeOid'>): boolean {
  return binaryFieldWriter(typeKind(col)) !== undefined;
}

type ValueWriter = (w: CopyWriter, v: unknown) => void;

/** A row: values in column order, or an object keyed by column name (any object type, e.g. an interface). */
export type PgCopyRow = readonly unknown[] | object;

const PG_EPOCH_MS = 946684800000;
const scratch = { buf: Buffer.allocUnsafe(1024) };

function checkString(v: string): void {
  if (!(v as string & { isWellFormed(): boolean }).isWellFormed()) {
    throw new FieldError('string contains a lone UTF-16 surrogate, which is not valid UTF-8');
  }
  if (v.indexOf('\0') !== -1)
    throw new FieldError('string contains a NUL character, which PostgreSQL text cannot hold');
}

/** A string value through the text-bytes field writer (the same parsing the NDJSON/CSV path does). */
function viaText(write: FieldWriter, w: CopyWriter, v: string): void {
  checkString(v);
  if (scratch.buf.length < v.length * 3) scratch.buf = Buffer.allocUnsafe(v.length * 3);
  const n = scratch.buf.write(v, 0, 'utf8');
  write(w, scratch.buf, 0, n);
}

function typeError(v: unknown, kind: TypeKind): FieldError {
  const what = v instanceof Date ? 'Date' : Array.isArray(v) ? 'array' : typeof v;
  return new FieldError(`cannot encode a ${what} as ${KIND_LABEL[kind]}`);
}

function valueWriter(kind: TypeKind): ValueWriter {
  const text = binaryFieldWriter(kind);
  if (!text) throw new Error(`no binary encoder for ${KIND_LABEL[kind]}`);
  const stringOr = (other: (w: CopyWriter, v: unknown) => boolean): ValueWriter => {
    return (w, v) => {
      if (typeof v === 'string') viaText(text, w, v);
      else if (!other(w, v)) throw typeError(v, kind);
    };
  };
  switch (kind) {
    case TypeKind.Text:
      return (w, v) => {
        if (typeof v === 'string') {
          checkString(v);
          w.utf8Field(v);
        } else if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') {
          w.utf8Field(String(v));
        } else throw typeError(v, kind);
      };
    case TypeKind.Int2:
    case TypeKind.Int4:
    case TypeKind.Int8: {
      const width = kind === TypeKind.Int2 ? 2 : kind === TypeKind.Int4 ? 4 : 8;
      return stringOr((w, v) => {
        if (typeof v !== 'number' && typeof v !== 'bigint') return false;
        const n = integerFromValue(v, width);
        w.ensure(12);
        w.int32(width);
        if (width === 2) w.int16(n as number);
        else if (width === 4) w.int32(n as number);
        else if (typeof n === 'number') w.int64(n);
        else w.bigint64(n);
        return true;
      });
    }
    case TypeKind.Float4:
      return stringOr((w, v) => {
        if (typeof v !== 'number') return false;
        const f = Math.fround(v);
        // Same range rules as text input: a finite double that does not fit a float is an error.
        if (Number.isFinite(v) && (!Number.isFinite(f) || (f === 0 && v !== 0))) {
          throw new FieldError(`${v} is out of range for float4`);
        }
        w.ensure(8);
        w.int32(4);
        w.float32(f);
        return true;
      });
    case TypeKind.Float8:
      return stringOr((w, v) => {
        if (typeof v !== 'number') return false;
        w.ensure(12);
        w.int32(8);
        w.float64(v);
        return true;
      });
    case TypeKind.Bool:
      return stringOr((w, v) => {
        if (typeof v === 'boolean') {
          w.ensure(5);
          w.int32(1);
          w.byte(v ? 1 : 0);
          return true;
        }
        if (v === 0 || v === 1) {
          viaText(text, w, String(v));
          return true;
        }
        return false;
      });
    case TypeKind.Date:
      return stringOr((w, v) => {
        if (!(v instanceof Date)) return false;
        const ms = v.getTime();
        // A Date is an instant; only UTC midnight names one calendar date without guessing a zone.
        if (!Number.isFinite(ms) || ms % 86400000 !== 0) {
          throw new FieldError(
            'a Date for a date column must be exactly UTC midnight; pass "YYYY-MM-DD" instead',
          );
        }
        w.ensure(8);
        w.int32(4);
        w.int32((ms - PG_EPOCH_MS) / 86400000);
        return true;
      });
    case TypeKind.Timestamptz:
      return stringOr((w, v) => {
        if (!(v instanceof Date)) return false;
        const ms = v.getTime();
        if (!Number.isFinite(ms)) throw new FieldError('invalid Date');
        const us = (ms - PG_EPOCH_MS) * 1000;
        w.ensure(12);
        w.int32(8);
        if (Number.isSafeInteger(us)) w.int64(us);
        else w.bigint64(BigInt(ms - PG_EPOCH_MS) * 1000n);
        return true;
      });
    case TypeKind.Timestamp:
      return stringOr((_w, v) => {
        if (v instanceof Date) {
          throw new FieldError(
            'a Date is an instant, but timestamp (without time zone) is a wall-clock time: pass "YYYY-MM-DDTHH:MM:SS" or use a timestamptz column',
          );
        }
        return false;
      });
    case TypeKind.Json:
    case TypeKind.Jsonb:
      // A string is JSON text; anything else is serialized (JSON.stringify escapes lone surrogates,
      // which validation then refuses, as PostgreSQL would).
      return (w, v) => {
        if (typeof v === 'string') return viaText(text, w, v);
        const json = typeof v === 'bigint' ? String(v) : JSON.stringify(v);
        if (json === undefined) throw typeError(v, kind);
        viaText(text, w, json);
      };
    default:
      return stringOr(() => false);
  }
}

export interface RowEncoderOptions {
  /** Output chunk size to aim for (default 64 KiB). */
  chunkBytes?: number;
  /** Row number of the first row, for errors (default 1). */
  firstRow?: number;
}

/**
 * Incremental encoder: addRow() values (array in column order, or object keyed by column name; null and
 * undefined are NULL), takeChunk() whenever it returns a Buffer. Errors are RowError naming row and column;
 * a failed row leaves nothing behind, so the caller may skip it and go on.
 */
export class PgCopyRowEncoder {
  readonly writer: CopyWriter;
  private readonly writers: ValueWriter[];
  private readonly names: string[];
  private readonly nameSet: Set<string>;
  /** Columns named like Object.prototype members ("constructor"): read as own properties only. */
  private readonly inherited: boolean[];
  private rowNo: number;

  constructor(
    readonly columns: readonly ColumnInfo[],
    opts: RowEncoderOptions = {},
  ) {
    if (columns.length === 0 || columns.length > 1600) throw new Error('PgCopyRowEncoder: 1..1600 columns');
    this.writer = new CopyWriter(opts.chunkBytes ?? 65536);
    this.writers = columns.map((c) => {
      const kind = typeKind(c);
      if (!binaryFieldWriter(kind)) {
        throw new Error(
          `column ${JSON.stringify(c.name)} has type ${c.type}, which binary COPY encoding does not support`,
        );
      }
      return valueWriter(kind);
    });
    this.names = columns.map((c) => c.name);
    this.nameSet = new Set(this.names);
    this.inherited = this.names.map((name) => name in Object.prototype);
    this.rowNo = (opts.firstRow ?? 1) - 1;
  }

  /** Rows added so far. */
  get rows(): number {
    return this.rowNo;
  }

  header(): void {
    this.writer.ensure(PGCOPY_HEADER.length);
    this.writer.copyFrom(PGCOPY_HEADER, 0, PGCOPY_HEADER.length);
  }

  trailer(): void {
    this.writer.ensure(2);
    this.writer.int16(-1);
  }

  addRow(row: PgCopyRow): void {
    const rowNo = ++this.rowNo;
    const w = this.writer;
    const start = w.pos;
    const n = this.writers.length;
    let col = -1;
    try {
      w.ensure(2);
      w.int16(n);
      if (Array.isArray(row)) {
        if (row.length !== n)
          throw new RowError(rowNo, undefined, `row ${rowNo}: ${row.length} values for ${n} columns`);
        for (col = 0; col < n; col++) {
          const v = row[col];
          if (v === null || v === undefined) w.nullField();
          else this.writers[col](w, v);
        }
      } else {
        const rec = row as Readonly<Record<string, unknown>>;
        let present = 0;
        for (col = 0; col < n; col++) {
          const name = this.names[col];
          const v =
            this.inherited[col] && !Object.prototype.hasOwnProperty.call(rec, name) ? undefined : rec[name];
          if (v !== undefined) present++;
          if (v === null || v === undefined) w.nullField();
          else this.writers[col](w, v);
        }
        col = -1;
        let keys = 0;
        for (const k in rec) if (rec[k] !== undefined) keys++;
        if (keys !== present) {
          const extra = Object.keys(rec).find((k) => rec[k] !== undefined && !this.nameSet.has(k));
          throw new RowError(
            rowNo,
            extra,
            `row ${rowNo}: key ${quoteForMessage(extra ?? '?')} is not one of the columns`,
          );
        }
      }
    } catch (err) {
      w.pos = start;
      this.rowNo = rowNo - 1;
      if (err instanceof FieldError && col >= 0) {
        const name = this.names[col];
        throw new RowError(rowNo, name, `row ${rowNo}, column ${JSON.stringify(name)}: ${err.message}`);
      }
      throw err;
    }
  }

  /** A chunk when at least chunkBytes are buffered, else null. */
  takeChunk(): Buffer | null {
    return this.writer.full ? this.writer.take() : null;
  }

  /** Everything buffered (possibly empty). */
  flush(): Buffer {
    return this.writer.take();
  }
}

/** Tuples only (no header/trailer), in chunks of about chunkBytes. */
export function* encodeRows(
  columns: readonly ColumnInfo[],
  rows: Iterable<PgCopyRow>,
  opts: RowEncoderOptions = {},
): Generator<Buffer> {
  const enc = new PgCopyRowEncoder(columns, opts);
  for (const row of rows) {
    enc.addRow(row);
    const chunk = enc.takeChunk();
    if (chunk) yield chunk;
  }
  const rest = enc.flush();
  if (rest.length > 0) yield rest;
}

/** A complete application/x-pgcopy body: header, tuples, trailer. */
export function* encodePgCopy(
  columns: readonly ColumnInfo[],
  rows: Iterable<PgCopyRow>,
  opts: RowEncoderOptions = {},
): Generator<Buffer> {
  const enc = new PgCopyRowEncoder(columns, opts);
  enc.header();
  for (const row of rows) {
    enc.addRow(row);
    const chunk = enc.takeChunk();
    if (chunk) yield chunk;
  }
  enc.trailer();
  yield enc.flush();
}

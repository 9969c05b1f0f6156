// application/x-pgcopy bodies go to COPY (FORMAT binary) unchanged; the desktop app did the encoding. We
// only walk the framing, across chunk boundaries, without copying or decoding fields:
//  signature "PGCOPY\n\377\r\n\0"; int32 flags (bit 16 = OIDs: refused, bits 17-31 = unknown critical
//  flags: refused, bits 0-15: ignored, as PostgreSQL does); int32 header extension length + that many
//  bytes; per tuple int16 field count == number of target columns, per field int32 length, -1 (NULL) or
//  0..maxFieldBytes - a larger claim is refused the moment its 4 bytes arrive, never buffered - and
//  exactly the wire size for fixed-size types (int8 = 8, uuid = 16, ...: a length check, no decoding);
//  int16 -1 trailer; nothing after it. A body that ends anywhere else is an error, so a truncated upload
//  can never commit.
import type { ColumnInfo } from './columns';
import { KIND_LABEL, TypeKind, typeKind } from './column-types';
import { BadRequestError, LimitError, RowError } from './errors';
import { PassthroughOutput } from './passthrough-output';
import { PGCOPY_SIGNATURE } from './pgcopy-encoder';
import type { FormatReader, ReaderContext } from './reader-context';

const SIGNATURE = 0;
const FLAGS = 1;
const EXT_LEN = 2;
const EXT = 3;
const TUPLE = 4;
const FIELD_LEN = 5;
const FIELD_DATA = 6;
const DONE = 7;

/** Header extension areas are unused by PostgreSQL; a large one is certainly not a real COPY header. */
const MAX_EXTENSION = 1024 * 1024;

/** Wire sizes of the fixed-size types' send() output; 0 = variable. */
const FIXED_SIZE: Partial<Record<TypeKind, number>> = {
  [TypeKind.Int2]: 2,
  [TypeKind.Int4]: 4,
  [TypeKind.Int8]: 8,
  [TypeKind.Float4]: 4,
  [TypeKind.Float8]: 8,
  [TypeKind.Bool]: 1,
  [TypeKind.Uuid]: 16,
  [TypeKind.Date]: 4,
  [TypeKind.Timestamp]: 8,
  [TypeKind.Timestamptz]: 8,
};

export class PgcopyFramer implements FormatReader {
  rows = 0;
  private readonly cols: ColumnInfo[];
  private readonly n: number;
  private readonly max: number;
  private readonly sizes: Int32Array;
  private readonly out: PassthroughOutput;

  private state = SIGNATURE;
  /** Bytes of the current integer/signature seen so far, and its value being assembled. */
  private got = 0;
  private acc = 0;
  /** Bytes left of the current field or extension. */
  private left = 0;
  private field = 0;

  constructor(ctx: ReaderContext) {
    this.cols = ctx.requested ?? ctx.sel.writable;
    if (this.cols.length === 0) throw new BadRequestError('the table has no writable columns');
    this.n = this.cols.length;
    this.max = ctx.maxFieldBytes;
    this.sizes = Int32Array.from(this.cols, (c) => FIXED_SIZE[typeKind(c)] ?? 0);
    this.out = new PassthroughOutput(ctx.emit, ctx.chunkBytes);
    ctx.columnsKnown(this.cols);
  }

  write(chunk: Buffer): void {
    this.scan(chunk);
    this.out.add(chunk, 0, chunk.length);
  }

  end(): void {
    if (this.state === DONE) {
      this.out.flush();
      return;
    }
    if (this.state === SIGNATURE && this.got === 0) {
      throw new BadRequestError(
        'empty body: expected a PGCOPY binary stream (signature, header, tuples, trailer)',
      );
    }
    if (this.state <= EXT) throw new BadRequestError('pgcopy body ends inside its header (truncated upload)');
    if (this.state === TUPLE && this.got === 0) {
      throw new BadRequestError(
        `pgcopy body ends after ${this.rows} rows without the trailer (int16 -1): the upload was truncated`,
      );
    }
    throw this.rowError('the body ends inside this row (truncated upload)');
  }

  private column(): string | undefined {
    return this.state === FIELD_LEN || this.state === FIELD_DATA ? this.cols[this.field]?.name : undefined;
  }

  private rowError(what: string): RowError {
    const row = this.rows + 1;
    const column = this.column();
    return new RowError(
      row,
      column,
      `row ${row}${column ? `, column ${JSON.stringify(column)}` : ''}: ${what}`,
    );
  }

  private scan(buf: Buffer): void {
    const e = buf.length;
    let i = 0;
    while (i < e) {
      if (this.state === TUPLE && this.got === 0) {
        i = this.wholeTuples(buf, i, e);
        if (i >= e) break;
      }
      switch (this.state) {
        case SIGNATURE:
          while (i < e && this.got < PGCOPY_SIGNATURE.length) {
            if (buf[i] !== PGCOPY_SIGNATURE[this.got]) {
              throw new BadRequestError(
                'not a pgcopy body: the PGCOPY\\n\\377\\r\\n\\0 signature is missing',
              );
            }
            i++;
            this.got++;
          }
          if (this.got === PGCOPY_SIGNATURE.length) this.next(FLAGS);
          break;
        case FIELD_DATA: {
          const take = Math.min(this.left, e - i);
          i += take;
          this.left -= take;
          if (this.left === 0) this.fieldDone();
          break;
        }
        case EXT: {
          const take = Math.min(this.left, e - i);
          i += take;
          this.left -= take;
          if (this.left === 0) this.next(TUPLE);
          break;
        }
        case DONE:
          throw new BadRequestError(`pgcopy body continues after its trailer (after ${this.rows} rows)`);
        default: {
          // An int16/int32: read it whole when the chunk has it, else byte by byte across chunks.
          const size = this.state === TUPLE ? 2 : 4;
          if (this.got === 0 && i + size <= e) {
            this.value(size === 2 ? buf.readInt16BE(i) : buf.readInt32BE(i));
            i += size;
          } else {
            this.acc = this.acc * 256 + buf[i++];
            if (++this.got === size) {
              const v = size === 2 ? (this.acc << 16) >> 16 : this.acc | 0;
              this.got = 0;
              this.acc = 0;
              this.value(v);
            }
          }
        }
      }
    }
  }

  /**
   * The fast path: from a tuple start, every following tuple that lies wholly in this chunk and breaks no rule
   * (field count, lengths within the limit, fixed sizes) is skipped in one tight loop. Returns the start of the
   * first tuple that is not so (or the trailer); the state machine takes it from there, with the exact error.
   */
  private wholeTuples(buf: Buffer, i: number, e: number): number {
    const { n, max, sizes } = this;
    while (i + 2 <= e) {
      if (((buf[i] << 8) | buf[i + 1]) !== n) return i;
      let p = i + 2;
      for (let f = 0; f < n; f++) {
        if (p + 4 > e) return i;
        const len = (buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3];
        p += 4;
        if (len === -1) continue;
        if (len < 0 || len > max || (sizes[f] !== 0 && len !== sizes[f])) return i;
        p += len;
        if (p > e) return i;
      }
      this.rows++;
      i = p;
    }
    return i;
  }

  private next(state: number): void {
    this.state = state;
    this.got = 0;
    this.acc = 0;
  }

  private value(v: number): void {
    switch (this.state) {
      case FLAGS:
        if (v & (1 << 16))
          throw new BadRequestError('pgcopy header asks for OIDs (flag bit 16), which are not supported');
        if (v >>> 17 !== 0) {
          throw new BadRequestError(`pgcopy header has unknown critical flags (0x${(v >>> 0).toString(16)})`);
        }
        return this.next(EXT_LEN);
      case EXT_LEN:
        if (v < 0 || v > MAX_EXTENSION)
          throw new BadRequestError(`pgcopy header extension length ${v} is not acceptable`);
        this.left = v;
        return this.next(v === 0 ? TUPLE : EXT);
      case TUPLE:
        if (v === -1) return this.next(DONE);
        if (v !== this.n) {
          throw this.rowError(
            `tuple has ${v} fields, expected ${this.n} (${this.cols.map((c) => c.name).join(', ')})`,
          );
        }
        this.field = 0;
        return this.next(FIELD_LEN);
      case FIELD_LEN:
        if (v === -1) return this.fieldDone();
        if (v < -1) throw this.rowError(`negative field length ${v}`);
        if (v > this.max) {
          const row = this.rows + 1;
          const column = this.cols[this.field].name;
          throw new LimitError(
            this.max,
            `row ${row}, column ${JSON.stringify(column)}: field length ${v} is over the limit of ${this.max} bytes`,
            row,
            column,
          );
        }
        if (this.sizes[this.field] !== 0 && v !== this.sizes[this.field]) {
          const kind = KIND_LABEL[typeKind(this.cols[this.field])];
          throw this.rowError(
            `field length ${v} is wrong for ${kind} (its binary form is ${this.sizes[this.field]} bytes)`,
          );
        }
        if (v === 0) return this.fieldDone();
        this.left = v;
        return this.next(FIELD_DATA);
    }
  }

  private fieldDone(): void {
    if (++this.field === this.n) {
      this.rows++;
      this.next(TUPLE);
    } else this.next(FIELD_LEN);
  }
}

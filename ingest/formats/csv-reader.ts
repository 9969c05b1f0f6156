// CSV -> COPY rows, read as PostgreSQL's COPY (FORMAT csv) reads them (csv-parser.ts): an empty unquoted
// field is NULL, a field with a quote anywhere is text ("" is the empty string); an empty line is one NULL
// field (a NULL row for a one-column upload, a field-count error otherwise, also at the end); `\.` alone on
// a line, unquoted, ends the data, and anything after it is an error (PostgreSQL would ignore it). Header
// line unless ?columns= was given; a UTF-8 BOM is removed before (by createCopyEncoder). Every field is
// checked as UTF-8 without NUL (one native check per clean chunk, per field only where a chunk is not), so
// nothing is silently replaced by U+FFFD. Values follow PostgreSQL's input functions (field-codecs.ts,
// 'postgres' rules).
import { isUtf8 } from 'node:buffer';
import { type ColumnInfo, resolveColumns } from './columns';
import * as csvParser from './csv-parser';
import { CsvParser, CsvSyntaxError } from './csv-parser';
import { BadRequestError, FieldError, LimitError, RowError } from './errors';
import { EncodedOutput, type FormatReader, type ReaderContext } from './reader-context';
import { firstInvalidUtf8, isValidUtf8 } from './utf8';

// Bound once: loaders that turn exports into getters (tsx/esbuild CommonJS) would otherwise pay a getter
// call per field.
const { CSV_DOUBLED, CSV_MIXED } = csvParser;
const UNQUOTE = CSV_DOUBLED | CSV_MIXED;

export class CsvReader implements FormatReader {
  rows = 0;
  private readonly parser: CsvParser;
  private readonly out: EncodedOutput;
  private cols?: ColumnInfo[];
  private headerDone: boolean;
  /** The end-of-data marker \. was read: nothing may follow. */
  private ended = false;
  /** The current chunk when it is known to be valid UTF-8 without NUL. */
  private cleanChunk: Uint8Array | null = null;
  private scratch = Buffer.allocUnsafe(4096);

  constructor(private readonly ctx: ReaderContext) {
    this.out = new EncodedOutput(ctx, 'postgres');
    this.headerDone = ctx.requested !== undefined;
    if (ctx.requested) this.setColumns(ctx.requested);
    const width = ctx.requested?.length ?? ctx.sel.writable.length;
    // Memory guard: a record's bytes are at most 2x its fields' (quote doubling) plus delimiters.
    const maxRecord = Math.min(2 ** 30, Math.max(1, width) * (2 * ctx.maxFieldBytes + 3) + 1024);
    this.parser = new CsvParser(
      { record: (n, src, s, e, flags, atEnd) => this.record(n, src, s, e, flags, atEnd) },
      maxRecord,
      (bytes) => {
        const row = this.row();
        throw new LimitError(
          ctx.maxFieldBytes,
          `row ${row}: no end of record after ${bytes} bytes (a field over the limit of ${ctx.maxFieldBytes} bytes, or an unclosed quote)`,
          row,
        );
      },
    );
  }

  private row(): number {
    return this.rows + 1;
  }

  write(chunk: Buffer): void {
    this.cleanChunk = isUtf8(chunk) && chunk.indexOf(0) < 0 ? chunk : null;
    this.guard(() => this.parser.write(chunk));
  }

  end(): void {
    this.cleanChunk = null;
    this.guard(() => this.parser.end());
    if (!this.headerDone)
      throw new BadRequestError('empty body: expected a CSV header line (or pass ?columns=)');
    this.out.finish();
  }

  /** Parser syntax errors -> RowError at the current row (BadRequestError in the header). */
  private guard(run: () => void): void {
    try {
      run();
    } catch (err) {
      if (!(err instanceof CsvSyntaxError)) throw err;
      if (!this.headerDone) throw new BadRequestError(`CSV header: ${err.message}`);
      const row = err.previousRecord ? Math.max(1, this.rows) : this.row();
      const column = err.field >= 0 ? this.cols![err.field]?.name : undefined;
      throw new RowError(
        row,
        column,
        `row ${row}${column ? `, column ${JSON.stringify(column)}` : ''}: ${err.message}`,
      );
    }
  }

  private setColumns(cols: ColumnInfo[]): void {
    this.cols = cols;
    this.out.start(cols);
  }

  /** The field's bytes after value(): doubled quotes collapsed (into scratch) when there were any. */
  private vBuf: Uint8Array = this.scratch;
  private vs = 0;
  private ve = 0;

  private value(src: Uint8Array, s: number, e: number, flags: number): void {
    if (flags & UNQUOTE) return this.unquote(src, s, e, flags);
    this.vBuf = src;
    this.vs = s;
    this.ve = e;
  }

  /** Doubled quotes collapsed, or (mixed) the raw field read as PostgreSQL does, into scratch. */
  private unquote(src: Uint8Array, s: number, e: number, flags: number): void {
    if (this.scratch.length < e - s) this.scratch = Buffer.allocUnsafe(2 * (e - s));
    const out = this.scratch;
    let p = 0;
    if (flags & CSV_MIXED) {
      // Every quote opens or closes a quoted part; "" inside a quoted part is one quote.
      let quoted = false;
      for (let i = s; i < e; i++) {
        const c = src[i];
        if (c !== 0x22) out[p++] = c;
        else if (quoted && i + 1 < e && src[i + 1] === 0x22) {
          out[p++] = c;
          i++;
        } else quoted = !quoted;
      }
    } else {
      for (let i = s; i < e; i++) {
        const c = src[i];
        out[p++] = c;
        if (c === 0x22) i++; // the second quote of a pair
      }
    }
    this.vBuf = out;
    this.vs = 0;
    this.ve = p;
  }

  private record(
    n: number,
    src: readonly Uint8Array[],
    s: Int32Array,
    e: Int32Array,
    flags: Uint8Array,
    atEnd: boolean,
  ): void {
    if (!this.headerDone) return this.header(n, src, s, e, flags);
    const cols = this.cols!;
    const row = this.rows + 1;
    if ((n !== cols.length || n === 1 || this.ended) && this.unusual(n, src, s, e, flags, atEnd)) return;
    const r = this.out.rows;
    const max = this.ctx.maxFieldBytes;
    r.begin();
    for (let k = 0; k < n; k++) {
      const f = flags[k];
      if (f === 0 && s[k] === e[k]) {
        r.nul(k);
        continue;
      }
      this.value(src[k], s[k], e[k], f);
      const buf = this.vBuf;
      const vs = this.vs;
      const ve = this.ve;
      const name = cols[k].name;
      if (ve - vs > max) {
        throw new LimitError(
          max,
          `row ${row}, column ${JSON.stringify(name)}: value is ${ve - vs} bytes, over the limit of ${max}`,
          row,
          name,
        );
      }
      if (src[k] !== this.cleanChunk) {
        if (!isValidUtf8(buf, vs, ve)) {
          const at = firstInvalidUtf8(buf, vs, ve) - vs;
          throw new RowError(
            row,
            name,
            `row ${row}, column ${JSON.stringify(name)}: invalid UTF-8 at byte ${at + 1} of the value`,
          );
        }
        if (buf.subarray(vs, ve).indexOf(0) !== -1) {
          throw new RowError(
            row,
            name,
            `row ${row}, column ${JSON.stringify(name)}: NUL byte, which PostgreSQL text cannot hold`,
          );
        }
      }
      try {
        r.field(k, buf, vs, ve);
      } catch (err) {
        if (err instanceof FieldError)
          throw new RowError(row, name, `row ${row}, column ${JSON.stringify(name)}: ${err.message}`);
        throw err;
      }
    }
    r.end();
    this.rows = row;
    this.out.rowDone();
  }

  /**
   * Records that are not a plain row: after the end marker (an error), the end marker itself (true: skip
   * it), an empty line or a wrong field count (errors). False: an ordinary row after all.
   */
  private unusual(
    n: number,
    src: readonly Uint8Array[],
    s: Int32Array,
    e: Int32Array,
    flags: Uint8Array,
    atEnd: boolean,
  ): boolean {
    const cols = this.cols!;
    const width = cols.length;
    const row = this.rows + 1;
    if (this.ended) {
      throw new RowError(
        row,
        undefined,
        `row ${row}: data after the end-of-data marker \\. (PostgreSQL would silently ignore it; remove the marker or what follows it)`,
      );
    }
    // `\.` alone on its line, unquoted, is PostgreSQL's end of data (as the body's last bytes it is data).
    if (n === 1 && flags[0] === 0 && !atEnd && e[0] - s[0] === 2) {
      const b = src[0];
      if (b[s[0]] === 0x5c && b[s[0] + 1] === 0x2e) {
        this.ended = true;
        return true;
      }
    }
    if (n === 1 && width > 1 && flags[0] === 0 && s[0] === e[0])
      throw new RowError(row, undefined, `row ${row}: empty line (1 field, expected ${width})`);
    if (n !== width) {
      throw new RowError(
        row,
        undefined,
        `row ${row}: ${n} field${n === 1 ? '' : 's'}, expected ${width} (${cols.map((c) => c.name).join(', ')})`,
      );
    }
    return false;
  }

  private header(
    n: number,
    src: readonly Uint8Array[],
    s: Int32Array,
    e: Int32Array,
    flags: Uint8Array,
  ): void {
    const names: string[] = [];
    for (let k = 0; k < n; k++) {
      this.value(src[k], s[k], e[k], flags[k]);
      const buf = this.vBuf;
      const vs = this.vs;
      const ve = this.ve;
      if (ve === vs) throw new BadRequestError(`CSV header: column ${k + 1} has an empty name`);
      if (!isValidUtf8(buf, vs, ve) || buf.subarray(vs, ve).indexOf(0) !== -1) {
        throw new BadRequestError(`CSV header: column ${k + 1} is not valid UTF-8 text`);
      }
      names.push(Buffer.from(buf.buffer, buf.byteOffset + vs, ve - vs).toString('utf8'));
    }
    this.headerDone = true;
    this.setColumns(resolveColumns(this.ctx.sel, names, 'CSV header'));
  }
}

// NDJSON -> COPY rows without building JS objects: each line is scanned over its bytes, string values
// without escapes are copied from the request buffer straight into the output, and numbers keep their
// exact text (so int8 beyond 2^53 and numeric stay exact).
//
// Column set: ?columns= if given, else the keys of the first object, in its order. A later row may leave a
// key out (-> NULL: COPY cannot apply a column DEFAULT per row) but may not bring a key outside the set
// (RowError naming the key; the first row's unknown keys are a BadRequestError instead). JSON null is SQL
// NULL, also for json/jsonb columns (whose other values, strings included, are stored as the JSON value);
// numbers and true/false go into text-like columns as their JSON text, arrays into array columns as
// array literals; objects only into json/jsonb. Blank (whitespace-only) lines are skipped and not
// counted: rows are numbered by objects, and messages add the line number when it differs. CRLF works
// (CR is JSON whitespace).
import { type ColumnInfo, columnProblem, resolveColumns } from './columns';
import { TypeKind, typeKind } from './column-types';
import { CopyWriter } from './copy-writer';
import { BadRequestError, FieldError, LimitError, RowError, quoteForMessage } from './errors';
import { binJsonbValidated } from './field-codecs';
import * as jsonScanner from './json-scanner';
import { jsonArrayToPgArray } from './json-to-pg-array';
import { EncodedOutput, type FormatReader, type ReaderContext } from './reader-context';
import { firstInvalidUtf8, isValidUtf8 } from './utf8';

// Bound once: loaders that turn exports into getters (tsx/esbuild CommonJS) would otherwise pay a getter
// call per use in the per-byte hot path.
const { JsonSyntaxError, decodeStringInto, scanNumber, scanState, scanString, skipValue, skipWs } =
  jsonScanner;

const NULL = 0;
const TEXT = 1;
const JSON_RAW = 2;
const ARRAY = 3;

const TRUE_BYTES = Buffer.from('true');
const FALSE_BYTES = Buffer.from('false');

export class NdjsonReader implements FormatReader {
  rows = 0;
  private line = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly maxLine: number;
  private readonly out: EncodedOutput;

  private cols?: ColumnInfo[];
  private n = 0;
  private isJson: boolean[] = [];
  private isJsonb: boolean[] = [];
  private isArray: boolean[] = [];
  private index = new Map<string, number>();
  private keyBytes: Buffer[] = [];
  /** Slot of the key seen at each position of the previous object: keys usually come in the same order. */
  private expect = new Int32Array(0);

  private slotSrc: Uint8Array[] = [];
  private slotS = new Int32Array(0);
  private slotE = new Int32Array(0);
  private slotKind = new Uint8Array(0);
  private stamp = new Int32Array(0);
  private scratch = Buffer.allocUnsafe(4096);
  private scratchPos = 0;
  private arrayOut?: CopyWriter;
  private binary = false;
  private curSlot = -1;

  constructor(private readonly ctx: ReaderContext) {
    this.out = new EncodedOutput(ctx);
    const width = ctx.requested?.length ?? ctx.sel.writable.length;
    // Memory guard only: a line can hold each field JSON-escaped (up to 6 bytes per byte) plus its key.
    this.maxLine = Math.min(2 ** 30, Math.max(1, width) * (6 * ctx.maxFieldBytes + 1024));
    if (ctx.requested) this.setColumns(ctx.requested);
  }

  write(chunk: Buffer): void {
    let s = 0;
    if (this.pendingBytes > 0) {
      const nl = chunk.indexOf(0x0a);
      if (nl < 0) {
        this.hold(chunk, 0, chunk.length);
        return;
      }
      this.hold(chunk, 0, nl);
      const line = this.takePending();
      this.region(line, 0, line.length);
      s = nl + 1;
    }
    const last = chunk.lastIndexOf(0x0a);
    if (last >= s) {
      this.region(chunk, s, last);
      s = last + 1;
    }
    if (s < chunk.length) this.hold(chunk, s, chunk.length);
  }

  end(): void {
    if (this.pendingBytes > 0) {
      const line = this.takePending();
      this.region(line, 0, line.length);
    }
    if (!this.cols) {
      // No rows at all: nothing to write, but COPY still needs a column list.
      if (this.ctx.sel.writable.length === 0) throw new BadRequestError('the table has no writable columns');
      this.setColumns(this.ctx.sel.writable);
    }
    this.out.finish();
  }

  private hold(chunk: Buffer, s: number, e: number): void {
    if (this.pendingBytes + (e - s) > this.maxLine) {
      throw new LimitError(
        this.ctx.maxFieldBytes,
        `row ${this.rows + 1}: line longer than ${this.maxLine} bytes without a newline (a field over the limit of ${this.ctx.maxFieldBytes} bytes?)`,
        this.rows + 1,
      );
    }
    if (e > s) {
      this.pending.push(Buffer.from(chunk.subarray(s, e)));
      this.pendingBytes += e - s;
    }
  }

  private takePending(): Buffer {
    const line = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return line;
  }

  /** Complete lines in buf[s, e), separated by LF; the last one ends at e. */
  private region(buf: Buffer, s: number, e: number): void {
    const utf8ok = isValidUtf8(buf, s, e);
    let i = s;
    for (;;) {
      let nl = buf.indexOf(0x0a, i);
      if (nl < 0 || nl > e) nl = e;
      this.parseLine(buf, i, nl, utf8ok);
      if (nl >= e) break;
      i = nl + 1;
    }
  }

  private where(row: number): string {
    return row === this.line ? `row ${row}` : `row ${row} (line ${this.line})`;
  }

  private parseLine(buf: Buffer, s: number, e: number, utf8ok: boolean): void {
    this.line++;
    const i = skipWs(buf, s, e);
    if (i >= e) return;
    const row = this.rows + 1;
    if (!utf8ok && !isValidUtf8(buf, s, e)) {
      const bad = firstInvalidUtf8(buf, s, e);
      const key = keyAtOffset(buf, s, e, bad);
      // Name the column only when the key is one; otherwise say which key's value it was.
      const column =
        key !== undefined && (this.cols ? this.index.has(key) : this.ctx.sel.byName.has(key))
          ? key
          : undefined;
      const inKey =
        key !== undefined && column === undefined ? ` (in the value of key ${quoteForMessage(key)})` : '';
      const where = column ? `${this.where(row)}, column ${JSON.stringify(column)}` : this.where(row);
      throw new RowError(row, column, `${where}: invalid UTF-8 at byte ${bad - s + 1} of the line${inKey}`);
    }
    this.curSlot = -1;
    try {
      if (!this.cols) this.firstRow(buf, i, e, row);
      this.parseObject(buf, i, e, row);
      this.emitRow(row);
    } catch (err) {
      if (err instanceof FieldError) {
        const column = this.curSlot >= 0 && this.cols ? this.cols[this.curSlot].name : undefined;
        const where = column ? `${this.where(row)}, column ${JSON.stringify(column)}` : this.where(row);
        const at = err instanceof JsonSyntaxError ? `invalid JSON at byte ${err.at - s + 1}: ` : '';
        throw new RowError(row, column, `${where}: ${at}${err.message}`);
      }
      throw err;
    }
    this.rows = row;
    this.out.rowDone();
  }

  private setColumns(cols: ColumnInfo[]): void {
    this.cols = cols;
    this.n = cols.length;
    const kinds = cols.map((c) => typeKind(c));
    this.isJson = kinds.map((k) => k === TypeKind.Json || k === TypeKind.Jsonb);
    this.isJsonb = kinds.map((k) => k === TypeKind.Jsonb);
    this.index = new Map(cols.map((c, i) => [c.name, i]));
    this.keyBytes = cols.map((c) => Buffer.from(c.name, 'utf8'));
    this.expect = new Int32Array(this.n).fill(-1);
    this.slotSrc = new Array<Uint8Array>(this.n).fill(TRUE_BYTES);
    this.slotS = new Int32Array(this.n);
    this.slotE = new Int32Array(this.n);
    this.slotKind = new Uint8Array(this.n);
    this.stamp = new Int32Array(this.n);
    this.out.start(cols);
    this.binary = this.out.rows.copyFormat === 'binary';
    this.isArray = this.out.rows.codecs.map((c) => c.isArray);
  }

  /** The first object's keys fix the column set. */
  private firstRow(buf: Buffer, i: number, e: number, row: number): void {
    const keys: string[] = [];
    if (buf[i] !== 0x7b) throw new JsonSyntaxError(i, 'each line must be one JSON object ({...})');
    i = skipWs(buf, i + 1, e);
    if (buf[i] !== 0x7d) {
      for (;;) {
        if (buf[i] !== 0x22) throw new JsonSyntaxError(i, 'expected a key string');
        const ke = scanString(buf, i, e);
        keys.push(keyText(buf, i, ke, scanState.escaped));
        i = skipWs(buf, ke, e);
        if (buf[i] !== 0x3a) throw new JsonSyntaxError(i, "expected ':' after the key");
        i = skipWs(buf, skipValue(buf, skipWs(buf, i + 1, e), e), e);
        if (buf[i] === 0x2c) i = skipWs(buf, i + 1, e);
        else break;
      }
    }
    if (keys.length === 0) {
      throw new BadRequestError(
        `${this.where(row)} is an empty object; the first object's keys fix the columns (or pass ?columns=)`,
      );
    }
    this.setColumns(resolveColumns(this.ctx.sel, keys, `keys of ${this.where(row)}`));
  }

  private parseObject(buf: Buffer, i: number, e: number, row: number): void {
    if (buf[i] !== 0x7b) throw new JsonSyntaxError(i, 'each line must be one JSON object ({...})');
    this.scratchPos = 0;
    i = skipWs(buf, i + 1, e);
    let pos = 0;
    if (buf[i] === 0x7d) i++;
    else {
      for (;;) {
        if (buf[i] !== 0x22) throw new JsonSyntaxError(i, 'expected a key string');
        const ke = scanString(buf, i, e);
        const slot = this.slotFor(buf, i, ke, scanState.escaped, pos++, row);
        this.curSlot = slot;
        if (this.stamp[slot] === row) throw new FieldError('key appears twice in the object');
        this.stamp[slot] = row;
        i = skipWs(buf, ke, e);
        if (buf[i] !== 0x3a) throw new JsonSyntaxError(i, "expected ':' after the key");
        i = skipWs(buf, this.value(buf, skipWs(buf, i + 1, e), e, slot, row), e);
        this.curSlot = -1;
        if (buf[i] === 0x2c) {
          i = skipWs(buf, i + 1, e);
          continue;
        }
        if (buf[i] === 0x7d) {
          i++;
          break;
        }
        throw new JsonSyntaxError(i, "expected ',' or '}'");
      }
    }
    i = skipWs(buf, i, e);
    if (i < e) throw new JsonSyntaxError(i, 'unexpected data after the object (one object per line)');
  }

  private slotFor(buf: Buffer, ks: number, ke: number, escaped: boolean, pos: number, row: number): number {
    const s = ks + 1;
    const e = ke - 1;
    if (!escaped && pos < this.n) {
      const guess = this.expect[pos];
      if (guess >= 0) {
        const kb = this.keyBytes[guess];
        if (kb.length === e - s) {
          let k = 0;
          while (k < kb.length && kb[k] === buf[s + k]) k++;
          if (k === kb.length) return guess;
        }
      }
    }
    const name = keyText(buf, ks, ke, escaped);
    const slot = this.index.get(name);
    if (slot === undefined) {
      const problem =
        columnProblem(this.ctx.sel, name) ??
        `key ${quoteForMessage(name)} is not among this upload's columns (${this.cols!.map((c) => c.name).join(', ')}), ${this.ctx.requested ? 'which ?columns= fixed' : 'which the first object fixed; pass ?columns= to name them all'}`;
      throw new RowError(row, name, `${this.where(row)}: ${problem}`);
    }
    if (pos < this.n) this.expect[pos] = slot;
    return slot;
  }

  private set(slot: number, kind: number, src: Uint8Array, s: number, e: number, row: number): void {
    if (e - s > this.ctx.maxFieldBytes) {
      const name = this.cols![slot].name;
      throw new LimitError(
        this.ctx.maxFieldBytes,
        `${this.where(row)}, column ${JSON.stringify(name)}: value is ${e - s} bytes, over the limit of ${this.ctx.maxFieldBytes}`,
        row,
        name,
      );
    }
    this.slotKind[slot] = kind;
    this.slotSrc[slot] = src;
    this.slotS[slot] = s;
    this.slotE[slot] = e;
  }

  /** Parses the value at buf[i] into the slot; returns the index after it. */
  private value(buf: Buffer, i: number, e: number, slot: number, row: number): number {
    const c = buf[i];
    const json = this.isJson[slot];
    let end: number;
    switch (c) {
      case 0x22:
        end = scanString(buf, i, e);
        if (json) this.set(slot, JSON_RAW, buf, i, end, row);
        else if (scanState.escaped) {
          if (this.scratch.length - this.scratchPos < end - i) {
            this.scratch = Buffer.allocUnsafe(Math.max(this.scratch.length * 2, end - i));
            this.scratchPos = 0;
          }
          const p0 = this.scratchPos;
          this.scratchPos = decodeStringInto(buf, i + 1, end - 1, this.scratch, p0);
          this.set(slot, TEXT, this.scratch, p0, this.scratchPos, row);
        } else this.set(slot, TEXT, buf, i + 1, end - 1, row);
        return end;
      case 0x6e:
        end = skipValue(buf, i, e);
        this.slotKind[slot] = NULL;
        return end;
      case 0x74:
      case 0x66:
        end = skipValue(buf, i, e);
        if (json) this.set(slot, JSON_RAW, buf, i, end, row);
        else {
          const lit = c === 0x74 ? TRUE_BYTES : FALSE_BYTES;
          this.set(slot, TEXT, lit, 0, lit.length, row);
        }
        return end;
      case 0x7b:
      case 0x5b:
        end = skipValue(buf, i, e);
        if (json) this.set(slot, JSON_RAW, buf, i, end, row);
        else if (c === 0x5b && this.isArray[slot]) this.set(slot, ARRAY, buf, i, end, row);
        else {
          const col = this.cols![slot];
          throw new FieldError(
            `a JSON ${c === 0x7b ? 'object' : 'array'} cannot go into a ${col.type} column`,
          );
        }
        return end;
      default:
        end = scanNumber(buf, i, e);
        this.set(slot, json ? JSON_RAW : TEXT, buf, i, end, row);
        return end;
    }
  }

  private emitRow(row: number): void {
    const r = this.out.rows;
    const w = this.out.w;
    const n = this.n;
    r.begin();
    for (let k = 0; k < n; k++) {
      this.curSlot = k;
      const kind = this.stamp[k] === row ? this.slotKind[k] : NULL;
      if (kind === TEXT) r.field(k, this.slotSrc[k], this.slotS[k], this.slotE[k]);
      else if (kind === NULL) r.nul(k);
      else if (kind === JSON_RAW) {
        r.sep(k);
        const src = this.slotSrc[k];
        if (!this.binary) w.escapedBytes(src, this.slotS[k], this.slotE[k]);
        else if (this.isJsonb[k]) binJsonbValidated(w, src, this.slotS[k], this.slotE[k]);
        else w.bytesField(src, this.slotS[k], this.slotE[k]);
      } else {
        r.sep(k);
        const tmp = (this.arrayOut ??= new CopyWriter(4096));
        tmp.pos = 0;
        jsonArrayToPgArray(this.slotSrc[k], this.slotS[k], this.slotE[k], tmp);
        w.escapedBytes(tmp.buf, 0, tmp.pos);
      }
    }
    this.curSlot = -1;
    r.end();
  }
}

function keyText(buf: Buffer, ks: number, ke: number, escaped: boolean): string {
  if (!escaped) return buf.toString('utf8', ks + 1, ke - 1);
  const tmp = Buffer.allocUnsafe(ke - ks);
  const n = decodeStringInto(buf, ks + 1, ke - 1, tmp, 0);
  return tmp.toString('utf8', 0, n);
}

/** The key whose value contains byte `at`, for pointing an invalid-UTF-8 error at a column. */
function keyAtOffset(buf: Buffer, s: number, e: number, at: number): string | undefined {
  try {
    let i = skipWs(buf, s, e);
    if (buf[i] !== 0x7b) return undefined;
    i = skipWs(buf, i + 1, e);
    while (buf[i] === 0x22) {
      const ke = scanString(buf, i, e);
      if (at < ke) return undefined;
      const key = keyText(buf, i, ke, scanState.escaped);
      i = skipWs(buf, ke, e);
      if (buf[i] !== 0x3a) return undefined;
      const vs = skipWs(buf, i + 1, e);
      const ve = skipValue(buf, vs, e);
      if (at >= vs && at < ve) return key;
      i = skipWs(buf, ve, e);
      if (buf[i] !== 0x2c) return undefined;
      i = skipWs(buf, i + 1, e);
    }
  } catch {
    // Unparseable: no column to name.
  }
  return undefined;
}

// text/tab-separated-values is PostgreSQL's COPY text format, so it goes to COPY unchanged: no per-field
// decoding, one pass over the bytes checking only the framing, so that a bad row is reported by us with
// its row and column rather than by the server mid-COPY:
//  - fields per line == number of columns (a backslash-escaped tab or newline is data, as in PostgreSQL);
//  - valid UTF-8, no NUL bytes; field size <= maxFieldBytes, counted as the value PostgreSQL will store
//    (`\n`, `\101`, `\x41`, `\é` are one character each, their bytes counted once);
//  - line ends: LF, CRLF or CR as set by the first line (header included), used consistently; another one
//    is an error - the rules PostgreSQL applies, checked here with a row number;
//  - the end marker \. must be alone on its line with its line end, and nothing may follow it (PostgreSQL
//    16 would also take "abc\." as data-then-end and ignore whatever follows); it is not forwarded;
//  - the header line (names, tab-separated, text-format escapes decoded as PostgreSQL decodes values) is
//    removed unless ?columns=.
// A UTF-8 BOM is removed before (by createCopyEncoder). The last line may lack its line end.
import { type ColumnInfo, resolveColumns } from './columns';
import { BadRequestError, LimitError, RowError } from './errors';
import { PassthroughOutput } from './passthrough-output';
import type { FormatReader, ReaderContext } from './reader-context';
import { Utf8Stream, isValidUtf8 } from './utf8';

const BACKSLASH = Buffer.from('\\');
const MAX_HEADER = 1024 * 1024;
const EOL_LF = 1;
const EOL_CRLF = 2;
const EOL_CR = 3;

const LITERAL_CR = 'carriage return inside data (write it as \\r)';
const LITERAL_LF = 'line feed inside data (write it as \\n)';

function isOctal(c: number): boolean {
  return c >= 0x30 && c <= 0x37;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x57 : -1;
}

/**
 * PostgreSQL's text-format decoding of one field's escapes (CopyReadAttributesText): \b \f \n \r \t \v,
 * \ooo (1-3 octal digits), \xhh (1-2 hex digits), backslash + anything else = that byte.
 */
function decodeTextField(raw: Buffer): Buffer {
  const out = Buffer.allocUnsafe(raw.length);
  let p = 0;
  for (let i = 0; i < raw.length; i++) {
    let c = raw[i];
    if (c === 0x5c && i + 1 < raw.length) {
      c = raw[++i];
      if (isOctal(c)) {
        let v = c - 0x30;
        for (let k = 0; k < 2 && i + 1 < raw.length && isOctal(raw[i + 1]); k++) v = v * 8 + raw[++i] - 0x30;
        c = v & 0xff;
      } else if (c === 0x78 && i + 1 < raw.length && hexValue(raw[i + 1]) >= 0) {
        let v = hexValue(raw[++i]);
        if (i + 1 < raw.length && hexValue(raw[i + 1]) >= 0) v = v * 16 + hexValue(raw[++i]);
        c = v;
      } else if (c === 0x62) c = 0x08;
      else if (c === 0x66) c = 0x0c;
      else if (c === 0x6e) c = 0x0a;
      else if (c === 0x72) c = 0x0d;
      else if (c === 0x74) c = 0x09;
      else if (c === 0x76) c = 0x0b;
    }
    out[p++] = c;
  }
  return out.subarray(0, p);
}

/** The first `byte` in buf[i, e), or e. */
function indexOrEnd(buf: Buffer, byte: number, i: number, e: number): number {
  const k = buf.indexOf(byte, i);
  return k < 0 || k > e ? e : k;
}

export class TsvFramer implements FormatReader {
  rows = 0;
  private cols?: ColumnInfo[];
  private n = 0;
  private readonly max: number;
  private readonly out: PassthroughOutput;
  private readonly utf8 = new Utf8Stream();

  /** The header line's bytes while it is being read (null: no header, or done). */
  private header: Buffer[] | null;
  private headerBytes = 0;
  /** In the header: the last byte was an escaping backslash / a CR (its LF may follow in the next chunk). */
  private headerEscape = false;
  private headerCR = false;

  private field = 0;
  /** Bytes the current field will have once PostgreSQL has decoded its escapes. */
  private len = 0;
  private afterBackslash = false;
  /** Octal (8) or hex (16) digits an escape at the end of the last chunk may still take, and how many. */
  private digitsBase = 0;
  private digitsLeft = 0;
  /** The chunk ended in a backslash at the start of a line: maybe the \. marker; not forwarded yet. */
  private heldBackslash = false;
  private crPending = false;
  private eol = 0;
  /** 0: none; 1: saw \. ; 2: saw \.\r ; 3: marker line complete. */
  private marker = 0;
  /** In the chunk being scanned: the next backslash / CR at or after the fast path's position (e: none). */
  private nextBackslash = -1;
  private nextCR = -1;

  constructor(private readonly ctx: ReaderContext) {
    this.max = ctx.maxFieldBytes;
    this.out = new PassthroughOutput(ctx.emit, ctx.chunkBytes);
    this.header = ctx.requested ? null : [];
    if (ctx.requested) this.setColumns(ctx.requested);
  }

  private setColumns(cols: ColumnInfo[]): void {
    this.cols = cols;
    this.n = cols.length;
    this.ctx.columnsKnown(cols);
  }

  write(chunk: Buffer): void {
    let s = 0;
    if (this.header) {
      s = this.readHeader(chunk);
      if (s < 0) return;
      this.parseHeader();
    }
    if (s >= chunk.length) return;
    let stop = chunk.length;
    const badUtf8 = this.utf8.check(chunk, s, chunk.length);
    if (badUtf8 >= 0) stop = badUtf8;
    const nul = chunk.indexOf(0, s);
    if (nul >= 0 && nul < stop) stop = nul;
    const fwdEnd = this.scan(chunk, s, stop);
    if (stop < chunk.length) {
      throw this.rowError(
        chunk[stop] === 0 && stop === nul ? 'NUL byte, which PostgreSQL text cannot hold' : 'invalid UTF-8',
      );
    }
    this.out.add(chunk, s, fwdEnd);
  }

  end(): void {
    if (this.header) {
      if (this.headerBytes === 0 && !this.headerCR)
        throw new BadRequestError('empty body: expected a TSV header line (or pass ?columns=)');
      if (this.headerCR) this.eol = EOL_CR;
      this.parseHeader();
    }
    if (this.utf8.truncated)
      throw this.rowError('invalid UTF-8 (the body ends inside a multi-byte sequence)');
    if (this.heldBackslash || this.afterBackslash) throw this.rowError('the body ends with a lone backslash');
    if (this.marker === 1 || (this.marker === 2 && this.eol === EOL_CRLF))
      throw this.rowError('the end-of-data marker \\. must be followed by its line end');
    if (this.crPending) {
      this.crPending = false;
      this.crLineEnd(false);
    }
    if (this.marker === 0 && (this.field > 0 || this.len > 0)) this.endLine();
    this.out.flush();
  }

  /**
   * Collects the header line up to its (unescaped) line end; returns where the data starts in the chunk,
   * or -1 when the whole chunk was header.
   */
  private readHeader(chunk: Buffer): number {
    let i = 0;
    if (this.headerCR) {
      this.headerCR = false;
      if (chunk[0] === 0x0a) {
        this.eol = EOL_CRLF;
        return 1;
      }
      this.eol = EOL_CR;
      return 0;
    }
    for (; i < chunk.length; i++) {
      const c = chunk[i];
      if (this.headerEscape) this.headerEscape = false;
      else if (c === 0x5c) this.headerEscape = true;
      else if (c === 0x0a || c === 0x0d) break;
    }
    if (this.headerBytes + i > MAX_HEADER) throw new BadRequestError('TSV header line longer than 1 MiB');
    this.header!.push(chunk.subarray(0, i));
    this.headerBytes += i;
    if (i === chunk.length) return -1;
    if (chunk[i] === 0x0a) {
      this.eol = EOL_LF;
      return i + 1;
    }
    if (i + 1 === chunk.length) {
      this.headerCR = true;
      return -1;
    }
    if (chunk[i + 1] === 0x0a) {
      this.eol = EOL_CRLF;
      return i + 2;
    }
    this.eol = EOL_CR;
    return i + 1;
  }

  private parseHeader(): void {
    const buf = Buffer.concat(this.header!, this.headerBytes);
    this.header = null;
    if (buf.length === 0) throw new BadRequestError('TSV header line is empty');
    const names: string[] = [];
    let start = 0;
    for (let i = 0; i <= buf.length; i++) {
      if (i < buf.length && buf[i] === 0x5c) {
        i++;
        continue;
      }
      if (i < buf.length && buf[i] !== 0x09) continue;
      const raw = buf.subarray(start, i);
      start = i + 1;
      const k = names.length + 1;
      if (raw.length === 2 && raw[0] === 0x5c && raw[1] === 0x4e)
        throw new BadRequestError(`TSV header: column ${k} is \\N (NULL), not a name`);
      const name = decodeTextField(raw);
      if (!isValidUtf8(name, 0, name.length))
        throw new BadRequestError(`TSV header: column ${k} is not valid UTF-8`);
      if (name.indexOf(0) >= 0) throw new BadRequestError(`TSV header: column ${k} contains a NUL byte`);
      names.push(name.toString('utf8'));
    }
    this.setColumns(resolveColumns(this.ctx.sel, names, 'TSV header'));
  }

  private columnName(): string | undefined {
    return this.cols && this.field < this.n ? this.cols[this.field].name : undefined;
  }

  /** A RowError for the current row, naming the current field's column unless the fault is the line's. */
  private rowError(what: string, lineLevel = false): RowError {
    const row = this.rows + 1;
    const column = this.marker === 0 && !lineLevel ? this.columnName() : undefined;
    return new RowError(
      row,
      column,
      `row ${row}${column ? `, column ${JSON.stringify(column)}` : ''}: ${what}`,
    );
  }

  private checkField(): void {
    if (this.len > this.max) {
      const row = this.rows + 1;
      const column = this.columnName();
      throw new LimitError(
        this.max,
        `row ${row}, column ${JSON.stringify(column)}: value is over the limit of ${this.max} bytes`,
        row,
        column,
      );
    }
  }

  private endLine(): void {
    this.checkField();
    if (this.field !== this.n - 1) {
      throw this.rowError(
        `${this.field + 1} field${this.field === 0 ? '' : 's'}, expected ${this.n} (tab-separated)`,
        true,
      );
    }
    this.rows++;
    this.field = 0;
    this.len = 0;
  }

  private lineEnd(eol: number): void {
    if (this.eol === 0) this.eol = eol;
    else if (this.eol !== eol) {
      const has = eol === EOL_LF ? 'LF alone' : eol === EOL_CRLF ? 'CR LF' : 'CR alone';
      const had = this.eol === EOL_LF ? 'LF alone' : this.eol === EOL_CRLF ? 'CR LF' : 'CR alone';
      throw this.rowError(`line ends with ${has} but earlier lines end with ${had}`, true);
    }
    this.endLine();
  }

  /** A CR outside an escape: a line end when the line-end style allows it; crlf: a LF follows it. */
  private crLineEnd(crlf: boolean): void {
    if (crlf) {
      if (this.eol === EOL_CR) {
        // The CR ends this line; the LF starts the next one, as data.
        this.lineEnd(EOL_CR);
        throw this.rowError(LITERAL_LF, true);
      }
      this.lineEnd(EOL_CRLF);
    } else {
      if (this.eol === EOL_CRLF || this.eol === EOL_LF) throw this.rowError(LITERAL_CR);
      this.lineEnd(EOL_CR);
    }
  }

  /** Consumes up to `left` digits of `base` from buf[i]; the escape may go on into the next chunk. */
  private escapeDigits(buf: Buffer, i: number, e: number, base: number, left: number): number {
    while (left > 0 && i < e && (base === 8 ? isOctal(buf[i]) : hexValue(buf[i]) >= 0)) {
      i++;
      left--;
    }
    if (i === e && left > 0) {
      this.digitsBase = base;
      this.digitsLeft = left;
    }
    return i;
  }

  /** The character after a backslash, at buf[i]: one decoded byte, plus the digits of \ooo / \xhh. */
  private escaped(buf: Buffer, i: number, e: number): number {
    const d = buf[i];
    this.len++;
    if (isOctal(d)) return this.escapeDigits(buf, i + 1, e, 8, 2);
    if (d === 0x78) {
      if (i + 1 === e) {
        this.digitsBase = 16;
        this.digitsLeft = 2;
        return e;
      }
      return hexValue(buf[i + 1]) >= 0 ? this.escapeDigits(buf, i + 1, e, 16, 2) : i + 1;
    }
    return i + 1;
  }

  /** Checks buf[s, e); returns where forwarding of this chunk must stop. */
  private scan(buf: Buffer, s: number, e: number): number {
    let i = s;
    if (this.marker !== 0) return this.afterMarker(buf, i, e, s);
    if (this.digitsLeft > 0) {
      const left = this.digitsLeft;
      this.digitsLeft = 0;
      i = this.escapeDigits(buf, i, e, this.digitsBase, left);
      if (this.digitsLeft > 0) return e;
    }
    if (this.heldBackslash) {
      this.heldBackslash = false;
      if (buf[i] === 0x2e) {
        this.marker = 1;
        return this.afterMarker(buf, i + 1, e, s);
      }
      this.out.add(BACKSLASH, 0, 1);
      this.afterBackslash = true;
    }
    if (this.afterBackslash) {
      this.afterBackslash = false;
      if (buf[i] === 0x2e) throw this.rowError('\\. (the end-of-data marker) inside a row');
      i = this.escaped(buf, i, e);
      if (this.digitsLeft > 0) return e;
    }
    if (this.crPending) {
      this.crPending = false;
      const crlf = buf[i] === 0x0a;
      this.crLineEnd(crlf);
      if (crlf) i++;
    }
    let len = this.len;
    this.nextBackslash = -1;
    this.nextCR = -1;
    for (; i < e; i++) {
      // At a line start: whole plain lines at native speed; the byte loop takes over where a line is not.
      if (this.field === 0 && len === 0) {
        i = this.plainLines(buf, i, e);
        if (i >= e) break;
      }
      const c = buf[i];
      if (c > 0x0d && c !== 0x5c) {
        len++;
        continue;
      }
      if (c === 0x5c) {
        if (i + 1 < e) {
          if (buf[i + 1] === 0x2e) {
            if (this.field === 0 && len === 0) {
              this.marker = 1;
              this.afterMarker(buf, i + 2, e, s);
              return i;
            }
            this.len = len;
            throw this.rowError('\\. (the end-of-data marker) inside a row');
          }
          const d = buf[i + 1];
          if (d !== 0x78 && (d < 0x30 || d > 0x37)) {
            // \t, \n, \\, \N, backslash + any other character: one byte once decoded.
            i++;
            len++;
            continue;
          }
          this.len = len;
          i = this.escaped(buf, i + 1, e) - 1;
          len = this.len;
          continue;
        }
        if (this.field === 0 && len === 0) {
          this.heldBackslash = true;
          this.len = 0;
          return i;
        }
        this.afterBackslash = true;
        continue;
      }
      if (c === 0x09) {
        this.len = len;
        this.checkField();
        if (++this.field >= this.n) throw this.rowError(`more than ${this.n} fields (tab-separated)`);
        len = 0;
        continue;
      }
      if (c === 0x0a) {
        this.len = len;
        if (this.eol === EOL_CR) throw this.rowError(LITERAL_LF);
        this.lineEnd(EOL_LF);
        len = 0;
        continue;
      }
      if (c === 0x0d) {
        this.len = len;
        if (i + 1 >= e) {
          // Its LF (if any) is in the next chunk; the line is ended there.
          this.crPending = true;
          break;
        }
        const crlf = buf[i + 1] === 0x0a;
        this.crLineEnd(crlf);
        if (crlf) i++;
        len = 0;
        continue;
      }
      len++; // other control characters are data
    }
    this.len = len;
    this.checkField();
    return e;
  }

  /**
   * The fast path (most lines of most bodies): from a line start, every following line ending in LF that has no
   * backslash, no CR, exactly n − 1 tabs and is no longer than maxFieldBytes (so no field is) is valid as it
   * stands: counted without looking at its bytes one by one (indexOf is native). Returns where the first line
   * that is not so starts (or e); the byte loop checks that one, with the exact error if there is one.
   */
  private plainLines(buf: Buffer, i: number, e: number): number {
    if (this.eol === EOL_CR || this.eol === EOL_CRLF) return i;
    const tabs = this.n - 1;
    while (i < e) {
      const nl = buf.indexOf(0x0a, i);
      if (nl < 0 || nl >= e || nl - i > this.max) return i;
      if (this.nextBackslash < i) this.nextBackslash = indexOrEnd(buf, 0x5c, i, e);
      if (this.nextBackslash < nl) return i;
      if (this.nextCR < i) this.nextCR = indexOrEnd(buf, 0x0d, i, e);
      if (this.nextCR < nl) return i;
      let seen = 0;
      for (let t = buf.indexOf(0x09, i); t >= 0 && t < nl; t = buf.indexOf(0x09, t + 1)) seen++;
      if (seen !== tabs) return i;
      if (this.eol === 0) this.eol = EOL_LF;
      this.rows++;
      i = nl + 1;
    }
    return i;
  }

  /** After \. only its line end may follow; returns the forward end (nothing from here on). */
  private afterMarker(buf: Buffer, i: number, e: number, fwd: number): number {
    for (; i < e; i++) {
      const c = buf[i];
      const eol = this.eol;
      if (this.marker === 1 && c === 0x0a && (eol === 0 || eol === EOL_LF)) this.marker = 3;
      else if (this.marker === 1 && c === 0x0d && eol !== EOL_LF) this.marker = eol === EOL_CR ? 3 : 2;
      else if (this.marker === 2 && c === 0x0a) this.marker = 3;
      else if (this.marker === 3 || this.marker === 2)
        throw this.rowError('data after the end-of-data marker \\.');
      else throw this.rowError('the end-of-data marker \\. must be alone on its line');
    }
    return fwd;
  }
}

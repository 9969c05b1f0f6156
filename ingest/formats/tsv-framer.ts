// text/tab-separated-values is PostgreSQL's COPY text format, so it goes to COPY unchanged: no per-field
// decoding, one pass over the bytes checking only the framing, so that a bad row is reported by us with
// its row and column rather than by the server mid-COPY:
//  - fields per line == number of columns (a backslash-escaped tab or newline is data, as in PostgreSQL);
//  - valid UTF-8, no NUL bytes; field size (escaped length minus backslashes) <= maxFieldBytes;
//  - line ends: LF or CRLF as set by the first line (header included), used consistently; a bare CR is
//    an error (PostgreSQL requires \r) - the same rules PostgreSQL applies, checked here with a row number;
//  - the end marker \. must be alone on its line and nothing may follow it (PostgreSQL 16 would also take
//    "abc\." as data-then-end); it is not forwarded;
//  - the header line (names, tab-separated, text-format escapes allowed) is removed unless ?columns=.
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

export class TsvFramer implements FormatReader {
  rows = 0;
  private cols?: ColumnInfo[];
  private n = 0;
  private readonly max: number;
  private readonly out: PassthroughOutput;
  private readonly utf8 = new Utf8Stream();

  private header: Buffer[] | null;
  private headerBytes = 0;

  private field = 0;
  /** Raw bytes and backslashes in the current field. */
  private len = 0;
  private esc = 0;
  private afterBackslash = false;
  /** The chunk ended in a backslash at the start of a line: maybe the \. marker; not forwarded yet. */
  private heldBackslash = false;
  private crPending = false;
  private eol = 0;
  /** 0: none; 1: saw \. ; 2: saw \.\r ; 3: marker line complete. */
  private marker = 0;

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
      const nl = chunk.indexOf(0x0a);
      const upto = nl < 0 ? chunk.length : nl + 1;
      if (this.headerBytes + upto > MAX_HEADER)
        throw new BadRequestError('TSV header line longer than 1 MiB');
      this.header.push(chunk.subarray(0, upto));
      this.headerBytes += upto;
      if (nl < 0) return;
      this.parseHeader();
      s = upto;
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
      if (this.headerBytes === 0)
        throw new BadRequestError('empty body: expected a TSV header line (or pass ?columns=)');
      this.parseHeader();
    }
    if (this.utf8.truncated)
      throw this.rowError('invalid UTF-8 (the body ends inside a multi-byte sequence)');
    if (this.heldBackslash || this.afterBackslash) throw this.rowError('the body ends with a lone backslash');
    if (this.crPending) throw this.rowError('the body ends with a carriage return without a line feed');
    if (this.marker === 0 && (this.field > 0 || this.len > 0)) this.endLine();
    this.out.flush();
  }

  private parseHeader(): void {
    const buf = Buffer.concat(this.header!, this.headerBytes);
    this.header = null;
    let e = buf.length;
    if (e > 0 && buf[e - 1] === 0x0a) {
      e--;
      this.eol = EOL_LF;
      if (e > 0 && buf[e - 1] === 0x0d) {
        e--;
        this.eol = EOL_CRLF;
      }
    }
    if (!isValidUtf8(buf, 0, e)) throw new BadRequestError('TSV header is not valid UTF-8');
    if (buf.subarray(0, e).indexOf(0) >= 0) throw new BadRequestError('TSV header contains a NUL byte');
    const names: string[] = [];
    let cur: number[] = [];
    const flush = (): void => {
      names.push(Buffer.from(cur).toString('utf8'));
      cur = [];
    };
    for (let i = 0; i < e; i++) {
      const c = buf[i];
      if (c === 0x09) flush();
      else if (c === 0x5c && i + 1 < e) {
        const d = buf[++i];
        if (d === 0x4e)
          throw new BadRequestError(`TSV header: column ${names.length + 1} is \\N (NULL), not a name`);
        cur.push(d === 0x74 ? 0x09 : d === 0x6e ? 0x0a : d === 0x72 ? 0x0d : d);
      } else if (c === 0x0d) throw new BadRequestError('TSV header: carriage return inside the line');
      else cur.push(c);
    }
    flush();
    if (e === 0) throw new BadRequestError('TSV header line is empty');
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
    if (this.len - this.esc > this.max) {
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
    this.esc = 0;
  }

  private lineEnd(crlf: boolean): void {
    if (this.eol === 0) this.eol = crlf ? EOL_CRLF : EOL_LF;
    else if ((this.eol === EOL_CRLF) !== crlf) {
      throw this.rowError(
        crlf
          ? 'line ends with CR LF but earlier lines end with LF alone'
          : 'line ends with LF alone but earlier lines end with CR LF',
        true,
      );
    }
    this.endLine();
  }

  /** Checks buf[s, e); returns where forwarding of this chunk must stop. */
  private scan(buf: Buffer, s: number, e: number): number {
    let i = s;
    if (this.marker !== 0) return this.afterMarker(buf, i, e, s);
    if (this.heldBackslash) {
      this.heldBackslash = false;
      if (buf[i] === 0x2e) {
        this.marker = 1;
        return this.afterMarker(buf, i + 1, e, s);
      }
      this.out.add(BACKSLASH, 0, 1);
      this.afterBackslash = true;
      this.len = 1;
      this.esc = 1;
    }
    if (this.afterBackslash) {
      this.afterBackslash = false;
      if (buf[i] === 0x2e) throw this.rowError('\\. (the end-of-data marker) inside a row');
      this.len++;
      i++;
    }
    if (this.crPending) {
      this.crPending = false;
      if (buf[i] !== 0x0a) throw this.rowError('carriage return inside data (write it as \\r)');
      this.lineEnd(true);
      i++;
    }
    let len = this.len;
    for (; i < e; i++) {
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
          i++;
          len += 2;
          this.esc++;
          continue;
        }
        this.esc++;
        if (this.field === 0 && len === 0) {
          this.heldBackslash = true;
          this.len = 0;
          return i;
        }
        this.afterBackslash = true;
        len++;
        continue;
      }
      if (c === 0x09) {
        this.len = len;
        this.checkField();
        if (++this.field >= this.n) throw this.rowError(`more than ${this.n} fields (tab-separated)`);
        len = 0;
        this.esc = 0;
        continue;
      }
      if (c === 0x0a) {
        this.len = len;
        this.lineEnd(false);
        len = 0;
        continue;
      }
      if (c === 0x0d) {
        this.len = len;
        if (i + 1 >= e) {
          this.crPending = true;
          continue;
        }
        if (buf[i + 1] !== 0x0a) throw this.rowError('carriage return inside data (write it as \\r)');
        i++;
        this.lineEnd(true);
        len = 0;
        continue;
      }
      len++; // other control characters are data
    }
    this.len = len;
    this.checkField();
    return e;
  }

  /** After \. only its line end may follow; returns the forward end (nothing from here on). */
  private afterMarker(buf: Buffer, i: number, e: number, fwd: number): number {
    for (; i < e; i++) {
      const c = buf[i];
      if (this.marker === 1 && c === 0x0d && this.eol !== EOL_LF) this.marker = 2;
      else if (
        (this.marker === 1 && this.eol !== EOL_CRLF && c === 0x0a) ||
        (this.marker === 2 && c === 0x0a)
      ) {
        this.marker = 3;
      } else if (this.marker === 3) throw this.rowError('data after the end-of-data marker \\.');
      else throw this.rowError('the end-of-data marker \\. must be alone on its line');
    }
    return fwd;
  }
}

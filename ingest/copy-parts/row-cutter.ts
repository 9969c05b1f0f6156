// Cuts a COPY data stream (what the encoder emits for one upload) into pieces that end on row boundaries, so
// the rows can be spread over several COPYs (ingest/copy-parts/parts.ts). Binary: the stream's header and
// trailer are taken off (each part gets its own); text: rows end at an unescaped line end, whose kind (LF, CRLF,
// CR) the first row sets, as PostgreSQL reads it. Input arrives in arbitrary chunks; a row split across chunks
// is held until its end arrives. The stream was already checked by the encoder: what is cut here is valid COPY.
import { PGCOPY_SIGNATURE } from '../formats/pgcopy-encoder';

/** Rows, whole, with how many there are. */
export interface RowPiece {
  readonly bytes: Buffer;
  readonly rows: number;
}

export interface RowCutter {
  /** Takes the next chunk; returns the rows completed by it (possibly none). */
  push(chunk: Buffer): RowPiece | null;
  /**
   * End of the stream: the rows still held (text whose only line end so far is a final CR), or null; anything
   * else still held is an error (the encoder ends on a row).
   */
  end(): RowPiece | null;
}

export function createRowCutter(format: 'binary' | 'text'): RowCutter {
  return format === 'binary' ? new BinaryRowCutter() : new TextRowCutter();
}

/** Chunks held since the last cut, joined only when a cut is made. */
class Held {
  private parts: Buffer[] = [];
  length = 0;

  add(b: Buffer): void {
    if (b.length === 0) return;
    this.parts.push(b);
    this.length += b.length;
  }

  /** The first `n` held bytes as one Buffer (no copy when they lie in one chunk); keeps the rest. */
  take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.parts[0];
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      const rest = first.subarray(n);
      this.parts = rest.length > 0 ? [rest, ...this.parts.slice(1)] : this.parts.slice(1);
    } else {
      const all = Buffer.concat(this.parts, this.length);
      out = all.subarray(0, n);
      this.parts = n < all.length ? [all.subarray(n)] : [];
    }
    this.length -= n;
    return out;
  }

  /** The byte at offset `i` from the start of what is held. */
  at(i: number): number {
    for (const p of this.parts) {
      if (i < p.length) return p[i];
      i -= p.length;
    }
    return -1;
  }
}

const SIG = 0;
const FLAGS = 1;
const EXT_LEN = 2;
const EXT = 3;
const TUPLE = 4;
const FIELD_LEN = 5;
const FIELD_DATA = 6;
const DONE = 7;

/** Walks binary COPY (header, tuples, trailer) incrementally, cutting after the last complete tuple. */
class BinaryRowCutter implements RowCutter {
  private readonly held = new Held();
  private state = SIG;
  /** Bytes of the current integer (or signature) seen, and its value so far. */
  private got = 0;
  private acc = 0;
  /** Bytes left of the header extension or the current field's data; fields left in the current tuple. */
  private left = 0;
  private fields = 0;
  /** Offsets into what is held: where the header ended (dropped after the chunk), and the last tuple end. */
  private headerEnd = 0;
  private cut = 0;
  /** Complete tuples held before `cut`. */
  private rows = 0;

  push(chunk: Buffer): RowPiece | null {
    const base = this.held.length;
    this.held.add(chunk);
    const e = chunk.length;
    let i = 0;
    while (i < e && this.state !== DONE) {
      if (this.state === SIG) {
        const n = Math.min(PGCOPY_SIGNATURE.length - this.got, e - i);
        i += n;
        this.got += n;
        if (this.got === PGCOPY_SIGNATURE.length) this.int(FLAGS);
      } else if (this.state === EXT || this.state === FIELD_DATA) {
        const n = Math.min(this.left, e - i);
        i += n;
        this.left -= n;
        if (this.left > 0) continue;
        if (this.state === EXT) this.headerDone(base + i);
        else this.fieldDone(base + i);
      } else {
        const width = this.state === TUPLE ? 2 : 4;
        while (i < e && this.got < width) {
          this.acc = (this.acc << 8) | chunk[i++];
          this.got++;
        }
        if (this.got < width) break;
        const v = width === 2 ? (this.acc << 16) >> 16 : this.acc | 0;
        if (this.state === FLAGS) this.int(EXT_LEN);
        else if (this.state === EXT_LEN) {
          this.left = v;
          if (v > 0) this.state = EXT;
          else this.headerDone(base + i);
        } else if (this.state === TUPLE) {
          if (v === -1)
            this.state = DONE; // the trailer: no part gets it
          else if (v === 0) this.tupleDone(base + i);
          else {
            this.fields = v;
            this.int(FIELD_LEN);
          }
        } else if (v > 0) {
          this.left = v;
          this.state = FIELD_DATA;
        } else this.fieldDone(base + i); // an empty (0) or NULL (-1) field
      }
    }
    if (this.headerEnd > 0) {
      this.held.take(this.headerEnd);
      this.cut = Math.max(0, this.cut - this.headerEnd);
      this.headerEnd = 0;
    }
    let piece: RowPiece | null = null;
    if (this.rows > 0) {
      piece = { bytes: this.held.take(this.cut), rows: this.rows };
      this.rows = 0;
      this.cut = 0;
    }
    if (this.state === DONE) this.held.take(this.held.length); // the trailer, and nothing after it
    return piece;
  }

  private int(next: number): void {
    this.state = next;
    this.got = 0;
    this.acc = 0;
  }

  private headerDone(at: number): void {
    this.headerEnd = at;
    this.int(TUPLE);
  }

  private fieldDone(at: number): void {
    if (--this.fields === 0) this.tupleDone(at);
    else this.int(FIELD_LEN);
  }

  private tupleDone(at: number): void {
    this.cut = at;
    this.rows++;
    this.int(TUPLE);
  }

  end(): null {
    if (this.state !== DONE || this.held.length !== 0)
      throw new Error('binary COPY stream ended without its trailer (the encoder ends on a row)');
    return null;
  }
}

const LF = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;

/** Text COPY: a row ends at a line end not preceded by an odd number of backslashes (backslash-newline is data). */
class TextRowCutter implements RowCutter {
  private readonly held = new Held();
  /** The line end's last byte (LF for LF and CRLF, CR for CR), and for CRLF the CR before it. */
  private eol = -1;
  private crlf = false;

  /** Until the line end kind is known: the scan's escape state, and a CR seen as the new chunk's last byte. */
  private escaped = false;
  private pendingCR = false;

  push(chunk: Buffer): RowPiece | null {
    const start = this.held.length;
    this.held.add(chunk);
    if (this.eol < 0 && !this.detect(chunk)) return null;
    // The last row end in the new chunk (the chunks held before it had none).
    let j = chunk.length - 1;
    let end = -1;
    while (j >= 0) {
      const k = chunk.lastIndexOf(this.eol, j);
      if (k < 0) break;
      if (this.isRowEnd(start + k)) {
        end = start + k + 1;
        break;
      }
      j = k - 1;
    }
    if (end < 0) return null;
    const bytes = this.held.take(end);
    return { bytes, rows: this.countRows(bytes) };
  }

  /** Sets the line end kind from the first unescaped CR or LF; false while it cannot be told yet. */
  private detect(chunk: Buffer): boolean {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (this.pendingCR) return this.setEol(c === LF);
      if (this.escaped) this.escaped = false;
      else if (c === BACKSLASH) this.escaped = true;
      else if (c === LF) {
        this.eol = LF;
        return true;
      } else if (c === CR) {
        if (i + 1 === chunk.length) {
          this.pendingCR = true; // a CRLF may be split across chunks
          return false;
        }
        return this.setEol(chunk[i + 1] === LF);
      }
    }
    return false;
  }

  private setEol(crlf: boolean): true {
    this.crlf = crlf;
    this.eol = crlf ? LF : CR;
    return true;
  }

  /** Whether the line end byte at held offset `k` ends a row: an even run of backslashes before it. */
  private isRowEnd(k: number): boolean {
    let p = k - 1;
    if (this.crlf) {
      if (this.held.at(p) !== CR) return false;
      p--;
    }
    let n = 0;
    while (p >= 0 && this.held.at(p) === BACKSLASH) {
      n++;
      p--;
    }
    return n % 2 === 0;
  }

  private countRows(b: Buffer): number {
    let rows = 0;
    let backslashes = 0;
    for (let i = b.indexOf(this.eol); i >= 0; i = b.indexOf(this.eol, i + 1)) {
      let p = i - 1;
      if (this.crlf) p--;
      backslashes = 0;
      while (p >= 0 && b[p] === BACKSLASH) {
        backslashes++;
        p--;
      }
      if (backslashes % 2 === 0) rows++;
    }
    return rows;
  }

  end(): RowPiece | null {
    if (this.held.length === 0) return null;
    // A CR that ended the last chunk and nothing after it: CR line ends, and that CR ends the rows held.
    if (this.eol < 0 && this.pendingCR && this.setEol(false) && this.isRowEnd(this.held.length - 1)) {
      const bytes = this.held.take(this.held.length);
      return { bytes, rows: this.countRows(bytes) };
    }
    throw new Error('text COPY stream ended inside a row (the encoder ends on a row)');
  }
}

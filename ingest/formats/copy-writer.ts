// One growable output buffer per upload: fields are written straight into it (no per-field Buffers), and
// it is handed off in chunks of >= chunkBytes, because pg-copy-streams is ~10x slower with small writes.

const TWO_32 = 4294967296;

export class CopyWriter {
  buf: Buffer;
  pos = 0;
  private readonly capacity: number;

  constructor(readonly chunkBytes: number) {
    // Room for a chunk plus the row that crosses the threshold, so most chunks never grow.
    this.capacity = Math.max(chunkBytes + (chunkBytes >> 1), 4096);
    this.buf = Buffer.allocUnsafe(this.capacity);
  }

  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** The bytes written so far (possibly empty), handing the buffer off and starting a new one. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(this.capacity);
    this.pos = 0;
    return out;
  }

  get full(): boolean {
    return this.pos >= this.chunkBytes;
  }

  // --- raw primitives; the caller has ensured room -------------------------------------------------

  int16(v: number): void {
    const b = this.buf;
    b[this.pos] = v >>> 8;
    b[this.pos + 1] = v;
    this.pos += 2;
  }

  int32(v: number): void {
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 24;
    b[p + 1] = v >>> 16;
    b[p + 2] = v >>> 8;
    b[p + 3] = v;
    this.pos = p + 4;
  }

  /** A safe integer (|v| <= 2^53) as int64, without BigInt. */
  int64(v: number): void {
    const hi = Math.floor(v / TWO_32);
    this.int32(hi);
    this.int32(v - hi * TWO_32);
  }

  bigint64(v: bigint): void {
    this.buf.writeBigInt64BE(v, this.pos);
    this.pos += 8;
  }

  float64(v: number): void {
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }

  float32(v: number): void {
    this.buf.writeFloatBE(v, this.pos);
    this.pos += 4;
  }

  byte(v: number): void {
    this.buf[this.pos++] = v;
  }

  copyFrom(src: Uint8Array, s: number, e: number): void {
    const n = e - s;
    if (n <= 48) {
      const b = this.buf;
      let p = this.pos;
      for (let i = s; i < e; i++) b[p++] = src[i];
      this.pos = p;
    } else {
      this.buf.set(src.subarray(s, e), this.pos);
      this.pos += n;
    }
  }

  /** Latin-1/ASCII text such as digits; one byte per char. */
  ascii(text: string): void {
    this.ensure(text.length);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < text.length; i++) b[p++] = text.charCodeAt(i);
    this.pos = p;
  }

  /** UTF-8 of a well-formed string (callers check lone surrogates: Buffer.write would replace them). */
  utf8(text: string): number {
    this.ensure(text.length * 3);
    const n = this.buf.write(text, this.pos, 'utf8');
    this.pos += n;
    return n;
  }

  // --- binary COPY fields ------------------------------------------------------------------------------

  nullField(): void {
    this.ensure(4);
    this.int32(-1);
  }

  bytesField(src: Uint8Array, s: number, e: number): void {
    this.ensure(4 + e - s);
    this.int32(e - s);
    this.copyFrom(src, s, e);
  }

  utf8Field(text: string): void {
    this.ensure(4 + text.length * 3);
    const at = this.pos;
    this.pos += 4;
    const n = this.buf.write(text, this.pos, 'utf8');
    this.pos += n;
    this.buf.writeInt32BE(n, at);
  }

  // --- text COPY fields ------------------------------------------------------------------------------

  /** Copies src[s, e) escaping backslash, newline, carriage return and tab for COPY text format. */
  escapedBytes(src: Uint8Array, s: number, e: number): void {
    this.ensure(2 * (e - s));
    const b = this.buf;
    let p = this.pos;
    for (let i = s; i < e; i++) {
      const c = src[i];
      if (c !== 0x5c && (c > 0x0d || c < 0x09)) {
        b[p++] = c;
        continue;
      }
      switch (c) {
        case 0x5c:
          b[p++] = 0x5c;
          b[p++] = 0x5c;
          break;
        case 0x0a:
          b[p++] = 0x5c;
          b[p++] = 0x6e;
          break;
        case 0x0d:
          b[p++] = 0x5c;
          b[p++] = 0x72;
          break;
        case 0x09:
          b[p++] = 0x5c;
          b[p++] = 0x74;
          break;
        default:
          b[p++] = c;
      }
    }
    this.pos = p;
  }

  /** UTF-8 of a well-formed string, escaped for COPY text format. */
  escapedString(text: string): void {
    const start = this.pos;
    this.utf8(text);
    let specials = 0;
    const b = this.buf;
    for (let i = start; i < this.pos; i++) {
      const c = b[i];
      if (c === 0x5c || c === 0x0a || c === 0x0d || c === 0x09) specials++;
    }
    if (specials === 0) return;
    // Expand in place from the end: no second copy of the common, escape-free part.
    this.ensure(specials);
    const d = this.buf;
    let r = this.pos - 1;
    let w = this.pos + specials - 1;
    this.pos += specials;
    while (r >= start && w > r) {
      const c = d[r--];
      if (c === 0x5c) {
        d[w--] = 0x5c;
        d[w--] = 0x5c;
      } else if (c === 0x0a) {
        d[w--] = 0x6e;
        d[w--] = 0x5c;
      } else if (c === 0x0d) {
        d[w--] = 0x72;
        d[w--] = 0x5c;
      } else if (c === 0x09) {
        d[w--] = 0x74;
        d[w--] = 0x5c;
      } else d[w--] = c;
    }
  }
}

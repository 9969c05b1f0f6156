// UTF-8 validation: the native buffer.isUtf8 (simdutf) over whole regions on the fast path; a JS scan only
// to find where an invalid sequence starts once we know there is one.
import { isUtf8 } from 'node:buffer';

export function isValidUtf8(buf: Uint8Array, s: number, e: number): boolean {
  return s === e || isUtf8(buf.subarray(s, e));
}

/** Offset of the first byte of the first invalid (or truncated) sequence in buf[s, e), or -1. */
export function firstInvalidUtf8(buf: Uint8Array, s: number, e: number): number {
  let i = s;
  while (i < e) {
    const c = buf[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let max = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) n = 2;
    else if (c >= 0xf0 && c <= 0xf4) n = 3;
    else return i;
    // Second-byte ranges exclude overlongs, surrogates (ED A0..BF) and code points past U+10FFFF.
    const min = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    if (c === 0xed) max = 0x9f;
    if (c === 0xf4) max = 0x8f;
    if (i + n >= e) return i;
    const b1 = buf[i + 1];
    if (b1 < min || b1 > max) return i;
    for (let k = 2; k <= n; k++) if ((buf[i + k] & 0xc0) !== 0x80) return i;
    i += n + 1;
  }
  return -1;
}

/**
 * Validates a byte stream chunk by chunk: a sequence split across chunks is held (at most 3 bytes) and
 * checked with the next chunk. check() returns the offset in the chunk of the first invalid byte, or -1;
 * an offset of 0 may also mean the held bytes from the previous chunk were the invalid ones.
 */
export class Utf8Stream {
  private held: number[] = [];

  check(buf: Uint8Array, s: number, e: number): number {
    let start = s;
    if (this.held.length > 0) {
      const need = seqLength(this.held[0]) - this.held.length;
      const take = Math.min(need, e - s);
      const tmp = Uint8Array.from([...this.held, ...buf.subarray(s, s + take)]);
      if (take < need) {
        // Still incomplete: everything so far must be continuation bytes.
        for (let k = 1; k < tmp.length; k++) if ((tmp[k] & 0xc0) !== 0x80) return s;
        this.held = Array.from(tmp);
        return -1;
      }
      if (!isUtf8(tmp)) return s;
      this.held = [];
      start = s + take;
    }
    // Hold back an incomplete sequence at the end.
    let cut = e;
    for (let k = e - 1; k >= Math.max(start, e - 3); k--) {
      const c = buf[k];
      if ((c & 0xc0) === 0x80) continue;
      if (c >= 0xc0 && k + seqLength(c) > e) cut = k;
      break;
    }
    if (!isValidUtf8(buf, start, cut)) {
      const bad = firstInvalidUtf8(buf, start, cut);
      return bad < 0 ? start : bad;
    }
    if (cut < e) this.held = Array.from(buf.subarray(cut, e));
    return -1;
  }

  /** True when the stream ended inside a multi-byte sequence. */
  get truncated(): boolean {
    return this.held.length > 0;
  }
}

function seqLength(lead: number): number {
  if (lead >= 0xf0) return 4;
  if (lead >= 0xe0) return 3;
  if (lead >= 0xc0) return 2;
  return 1;
}

// uuid_in's rules: 32 hex digits, optionally in braces, with an optional hyphen after any group of four.
import { FieldError, quoteForMessage } from './errors';

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/** Writes the 16 bytes into out[at..at+16); throws FieldError on anything else. */
export function parseUuidInto(src: Uint8Array, s: number, e: number, out: Uint8Array, at: number): void {
  let i = s;
  let braces = false;
  if (i < e && src[i] === 0x7b) {
    braces = true;
    i++;
  }
  for (let k = 0; k < 16; k++) {
    const hi = i < e ? hexValue(src[i]) : -1;
    const lo = i + 1 < e ? hexValue(src[i + 1]) : -1;
    if (hi < 0 || lo < 0) throw bad(src, s, e);
    out[at + k] = (hi << 4) | lo;
    i += 2;
    if (k % 2 === 1 && k < 15 && i < e && src[i] === 0x2d) i++;
  }
  if (braces) {
    if (i >= e || src[i] !== 0x7d) throw bad(src, s, e);
    i++;
  }
  if (i !== e) throw bad(src, s, e);
}

function bad(src: Uint8Array, s: number, e: number): FieldError {
  const shown = Buffer.from(src.buffer, src.byteOffset + s, e - s).toString('utf8');
  return new FieldError(`not a uuid: ${quoteForMessage(shown)} (expected 8-4-4-4-12 hex digits)`);
}

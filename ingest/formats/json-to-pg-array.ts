// An NDJSON array for an array column ("tags": ["a", "b"]) becomes a PostgreSQL array literal ({"a","b"});
// array types have no binary encoder here, so this feeds text COPY. Every string element is quoted, which
// makes the literal unambiguous whatever the element text (commas, braces, NULL, spaces).
import type { CopyWriter } from './copy-writer';
import { decodeStringInto, scanNumber, scanString, scanState, skipValue, skipWs } from './json-scanner';

/** src[i] is '[' of an already validated array; appends the literal to out and returns the index after it. */
export function jsonArrayToPgArray(src: Uint8Array, i: number, e: number, out: CopyWriter): number {
  out.ensure(1);
  out.byte(0x7b);
  i = skipWs(src, i + 1, e);
  let first = true;
  while (src[i] !== 0x5d) {
    if (!first) {
      out.ensure(1);
      out.byte(0x2c);
    }
    first = false;
    const c = src[i];
    if (c === 0x5b) i = jsonArrayToPgArray(src, i, e, out);
    else if (c === 0x22) {
      const end = scanString(src, i, e);
      const tmp = Buffer.allocUnsafe(end - i);
      const n = scanState.escaped
        ? decodeStringInto(src, i + 1, end - 1, tmp, 0)
        : copy(src, i + 1, end - 1, tmp);
      quoted(out, tmp, 0, n);
      i = end;
    } else if (c === 0x6e) {
      out.ascii('NULL');
      i += 4;
    } else if (c === 0x74 || c === 0x66) {
      const end = skipValue(src, i, e);
      out.ensure(end - i);
      out.copyFrom(src, i, end);
      i = end;
    } else if (c === 0x7b) {
      // An object element (json[]/jsonb[]): its JSON text, quoted.
      const end = skipValue(src, i, e);
      quoted(out, src, i, end);
      i = end;
    } else {
      const end = scanNumber(src, i, e);
      out.ensure(end - i);
      out.copyFrom(src, i, end);
      i = end;
    }
    i = skipWs(src, i, e);
    if (src[i] === 0x2c) i = skipWs(src, i + 1, e);
  }
  out.ensure(1);
  out.byte(0x7d);
  return i + 1;
}

function copy(src: Uint8Array, s: number, e: number, to: Uint8Array): number {
  to.set(src.subarray(s, e), 0);
  return e - s;
}

function quoted(out: CopyWriter, src: Uint8Array, s: number, e: number): void {
  out.ensure(2 * (e - s) + 2);
  out.byte(0x22);
  for (let i = s; i < e; i++) {
    const c = src[i];
    if (c === 0x22 || c === 0x5c) out.byte(0x5c);
    out.byte(c);
  }
  out.byte(0x22);
}

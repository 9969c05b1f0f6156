// A validating JSON scanner over UTF-8 bytes. It never builds JS values: the NDJSON reader uses it to find
// each value's bytes and copies them to the COPY output as they are, and jsonb fields are checked with it.
// Beyond RFC 8259 it refuses what PostgreSQL text and jsonb cannot hold: \u0000 and lone surrogates.
// UTF-8 validity of the bytes themselves is the caller's job (one native isUtf8 over many rows is faster).
import { FieldError } from './errors';

/** A syntax error at byte offset `at` of the scanned buffer. */
export class JsonSyntaxError extends FieldError {
  override name = 'JsonSyntaxError';
  constructor(
    readonly at: number,
    message: string,
  ) {
    super(message);
  }
}

/** Set by scanString: whether the last string scanned contained a backslash escape. */
export const scanState = { escaped: false };

const MAX_DEPTH = 512;

export function skipWs(src: Uint8Array, i: number, e: number): number {
  while (i < e) {
    const c = src[i];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  return i;
}

function hex4(src: Uint8Array, i: number, e: number): number {
  if (i + 4 > e) return -1;
  let v = 0;
  for (let k = 0; k < 4; k++) {
    const c = src[i + k];
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66) d = (c | 0x20) - 0x57;
    else return -1;
    v = (v << 4) | d;
  }
  return v;
}

function describe(c: number | undefined): string {
  if (c === undefined) return 'end of line';
  if (c >= 0x21 && c < 0x7f) return `'${String.fromCharCode(c)}'`;
  return `byte 0x${c.toString(16).padStart(2, '0')}`;
}

/** src[i] is '"'. Returns the index after the closing quote; sets scanState.escaped. */
export function scanString(src: Uint8Array, i: number, e: number): number {
  const start = i;
  i++;
  let escaped = false;
  for (;;) {
    if (i >= e) throw new JsonSyntaxError(start, 'unterminated string');
    const c = src[i];
    if (c === 0x22) {
      scanState.escaped = escaped;
      return i + 1;
    }
    if (c === 0x5c) {
      escaped = true;
      i = scanEscape(src, i, e);
    } else if (c < 0x20) {
      throw new JsonSyntaxError(
        i,
        `raw control character 0x${c.toString(16).padStart(2, '0')} inside a string (escape it)`,
      );
    } else i++;
  }
}

/** src[i] is a backslash inside a string; returns the index after the escape. */
function scanEscape(src: Uint8Array, i: number, e: number): number {
  const c = src[i + 1];
  switch (c) {
    case 0x22:
    case 0x5c:
    case 0x2f:
    case 0x62:
    case 0x66:
    case 0x6e:
    case 0x72:
    case 0x74:
      return i + 2;
    case 0x75: {
      const u = hex4(src, i + 2, e);
      if (u < 0) throw new JsonSyntaxError(i, 'bad \\u escape (needs 4 hex digits)');
      if (u === 0)
        throw new JsonSyntaxError(i, '\\u0000 (NUL) is not allowed: PostgreSQL text cannot hold it');
      if (u >= 0xdc00 && u <= 0xdfff) throw new JsonSyntaxError(i, `lone low surrogate \\u${u.toString(16)}`);
      if (u >= 0xd800 && u <= 0xdbff) {
        const lo = src[i + 6] === 0x5c && src[i + 7] === 0x75 ? hex4(src, i + 8, e) : -1;
        if (lo < 0xdc00 || lo > 0xdfff) {
          throw new JsonSyntaxError(
            i,
            `lone high surrogate \\u${u.toString(16)} (not followed by a low surrogate)`,
          );
        }
        return i + 12;
      }
      return i + 6;
    }
    default:
      throw new JsonSyntaxError(i, `bad escape \\${c === undefined ? '' : String.fromCharCode(c)}`);
  }
}

/** Decodes string content src[s, e) (between the quotes, already scanned) as UTF-8 into out at pos. */
export function decodeStringInto(
  src: Uint8Array,
  s: number,
  e: number,
  out: Uint8Array,
  pos: number,
): number {
  let i = s;
  while (i < e) {
    const c = src[i];
    if (c !== 0x5c) {
      out[pos++] = c;
      i++;
      continue;
    }
    const k = src[i + 1];
    i += 2;
    switch (k) {
      case 0x62:
        out[pos++] = 0x08;
        break;
      case 0x66:
        out[pos++] = 0x0c;
        break;
      case 0x6e:
        out[pos++] = 0x0a;
        break;
      case 0x72:
        out[pos++] = 0x0d;
        break;
      case 0x74:
        out[pos++] = 0x09;
        break;
      case 0x75: {
        let cp = hex4(src, i, e);
        i += 4;
        if (cp >= 0xd800 && cp <= 0xdbff) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (hex4(src, i + 2, e) - 0xdc00);
          i += 6;
        }
        if (cp < 0x80) out[pos++] = cp;
        else if (cp < 0x800) {
          out[pos++] = 0xc0 | (cp >> 6);
          out[pos++] = 0x80 | (cp & 0x3f);
        } else if (cp < 0x10000) {
          out[pos++] = 0xe0 | (cp >> 12);
          out[pos++] = 0x80 | ((cp >> 6) & 0x3f);
          out[pos++] = 0x80 | (cp & 0x3f);
        } else {
          out[pos++] = 0xf0 | (cp >> 18);
          out[pos++] = 0x80 | ((cp >> 12) & 0x3f);
          out[pos++] = 0x80 | ((cp >> 6) & 0x3f);
          out[pos++] = 0x80 | (cp & 0x3f);
        }
        break;
      }
      default: // " \ /
        out[pos++] = k;
    }
  }
  return pos;
}

/** src[i] starts a number; returns the index after it. */
export function scanNumber(src: Uint8Array, i: number, e: number): number {
  const start = i;
  if (src[i] === 0x2d) i++;
  if (src[i] === 0x30) i++;
  else if (src[i] >= 0x31 && src[i] <= 0x39) while (i < e && src[i] >= 0x30 && src[i] <= 0x39) i++;
  else throw new JsonSyntaxError(start, 'bad number');
  if (i < e && src[i] === 0x2e) {
    i++;
    const d = i;
    while (i < e && src[i] >= 0x30 && src[i] <= 0x39) i++;
    if (i === d) throw new JsonSyntaxError(start, 'bad number (no digits after the decimal point)');
  }
  if (i < e && (src[i] | 0x20) === 0x65) {
    i++;
    if (i < e && (src[i] === 0x2b || src[i] === 0x2d)) i++;
    const d = i;
    while (i < e && src[i] >= 0x30 && src[i] <= 0x39) i++;
    if (i === d) throw new JsonSyntaxError(start, 'bad number (no digits in the exponent)');
  }
  return i;
}

function literal(src: Uint8Array, i: number, e: number, word: string): number {
  if (i + word.length > e) throw new JsonSyntaxError(i, `unexpected ${describe(src[i])}`);
  for (let k = 0; k < word.length; k++) {
    if (src[i + k] !== word.charCodeAt(k)) throw new JsonSyntaxError(i, `unexpected ${describe(src[i])}`);
  }
  return i + word.length;
}

/** src[i] (after whitespace) starts a value; returns the index after it. */
export function skipValue(src: Uint8Array, i: number, e: number, depth = 0): number {
  // Past e lies the next field or line, not this value: it must neither match nor be named in a message.
  const c = i < e ? src[i] : undefined;
  switch (c) {
    case 0x22:
      return scanString(src, i, e);
    case 0x7b:
    case 0x5b:
      return skipContainer(src, i, e, depth);
    case 0x74:
      return literal(src, i, e, 'true');
    case 0x66:
      return literal(src, i, e, 'false');
    case 0x6e:
      return literal(src, i, e, 'null');
    default:
      if (c !== undefined && (c === 0x2d || (c >= 0x30 && c <= 0x39))) return scanNumber(src, i, e);
      throw new JsonSyntaxError(i, `expected a value, found ${describe(c)}`);
  }
}

function skipContainer(src: Uint8Array, i: number, e: number, depth: number): number {
  if (depth >= MAX_DEPTH) throw new JsonSyntaxError(i, `nested deeper than ${MAX_DEPTH} levels`);
  const at = (k: number) => (k < e ? src[k] : undefined);
  const object = src[i] === 0x7b;
  const close = object ? 0x7d : 0x5d;
  i = skipWs(src, i + 1, e);
  if (at(i) === close) return i + 1;
  for (;;) {
    if (object) {
      if (at(i) !== 0x22) throw new JsonSyntaxError(i, `expected a key string, found ${describe(at(i))}`);
      i = skipWs(src, scanString(src, i, e), e);
      if (at(i) !== 0x3a) throw new JsonSyntaxError(i, `expected ':', found ${describe(at(i))}`);
      i = skipWs(src, i + 1, e);
    }
    if (i >= e) throw new JsonSyntaxError(i, 'unexpected end of line');
    i = skipWs(src, skipValue(src, i, e, depth + 1), e);
    if (at(i) === close) return i + 1;
    if (at(i) !== 0x2c)
      throw new JsonSyntaxError(i, `expected ',' or '${object ? '}' : ']'}', found ${describe(at(i))}`);
    i = skipWs(src, i + 1, e);
  }
}

/** The whole of src[s, e) is one JSON value (whitespace around it allowed). */
export function validateJson(src: Uint8Array, s: number, e: number): void {
  let i = skipWs(src, s, e);
  if (i >= e) throw new JsonSyntaxError(i - s, 'empty value is not JSON');
  try {
    i = skipWs(src, skipValue(src, i, e), e);
  } catch (err) {
    if (err instanceof JsonSyntaxError)
      throw new JsonSyntaxError(err.at - s, `invalid JSON at byte ${err.at - s + 1}: ${err.message}`);
    throw err;
  }
  if (i !== e)
    throw new JsonSyntaxError(i - s, `invalid JSON at byte ${i - s + 1}: unexpected data after the value`);
}

// Exact integers from text bytes, by PostgreSQL's rules (CSV) or the JSON-friendly ones (NDJSON, the SDK).
// JS doubles hold integers exactly only up to 2^53, so int8 beyond that goes through BigInt; the common short
// case never allocates.
import { FieldError, quoteForMessage } from './errors';

export type IntWidth = 2 | 4 | 8;

const LIMITS: Record<IntWidth, [number, number]> = {
  2: [-32768, 32767],
  4: [-2147483648, 2147483647],
  8: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};
const INT8_MIN = -(2n ** 63n);
const INT8_MAX = 2n ** 63n - 1n;
const LABEL: Record<IntWidth, string> = { 2: 'int2', 4: 'int4', 8: 'int8' };

/** PostgreSQL's isspace() set: space, \t, \n, \v, \f, \r. */
export function isSpaceByte(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function text(src: Uint8Array, s: number, e: number): string {
  return Buffer.from(src.buffer, src.byteOffset + s, e - s).toString('utf8');
}

function outOfRange(shown: string, width: IntWidth): FieldError {
  const [lo, hi] = width === 8 ? [INT8_MIN, INT8_MAX] : LIMITS[width];
  return new FieldError(`value ${quoteForMessage(shown)} is out of range for ${LABEL[width]} (${lo}..${hi})`);
}

/**
 * The common case of both rule sets, without allocating: `src[s..e)` (already trimmed) is an optional sign and
 * 1 to 15 decimal digits. Returns the value (range-checked), or undefined when it is not that case.
 */
function smallDecimal(src: Uint8Array, s: number, e: number, width: IntWidth): number | undefined {
  let i = s;
  let neg = false;
  if (i < e && (src[i] === 0x2d || src[i] === 0x2b)) {
    neg = src[i] === 0x2d;
    i++;
  }
  const digitsStart = i;
  let v = 0;
  while (i < e) {
    const d = src[i] - 0x30;
    if (d < 0 || d > 9) break;
    v = v * 10 + d;
    i++;
  }
  const n = i - digitsStart;
  if (i !== e || n === 0 || n > 15) return undefined;
  if (neg) v = v === 0 ? 0 : -v;
  const [lo, hi] = LIMITS[width];
  if (v < lo || v > hi) throw outOfRange(text(src, s, e), width);
  return v;
}

/**
 * The NDJSON/SDK rules: decimal integers (optional surrounding whitespace and sign, digits) plus the forms
 * JSON writers produce for whole numbers (1.0, 1e3, 1.5e1) when the value is integral; no radix prefixes,
 * no underscores. CSV follows PostgreSQL instead (parsePgInteger). Returns a number whenever it is exact
 * (|v| <= 2^53), else a bigint (int8 only).
 */
export function parseInteger(src: Uint8Array, s: number, e: number, width: IntWidth): number | bigint {
  while (s < e && isSpaceByte(src[s])) s++;
  while (e > s && isSpaceByte(src[e - 1])) e--;
  return smallDecimal(src, s, e, width) ?? parseIntegerSlow(text(src, s, e), width);
}

/**
 * PostgreSQL 16's integer input (pg_strtoint16/32/64), the rules for CSV fields: optional surrounding
 * whitespace, an optional sign, then decimal digits, or `0x`/`0o`/`0b` (any case) followed by hex, octal or
 * binary digits; an underscore may stand between two digits (and, after a radix prefix, before the first).
 * Nothing else: no `1.0`, no `1e3`. Returns a number whenever it is exact (|v| <= 2^53), else a bigint (int8).
 */
export function parsePgInteger(src: Uint8Array, s: number, e: number, width: IntWidth): number | bigint {
  while (s < e && isSpaceByte(src[s])) s++;
  while (e > s && isSpaceByte(src[e - 1])) e--;
  return smallDecimal(src, s, e, width) ?? parsePgIntegerSlow(src, s, e, width);
}

/** The value of digit byte c in base, or -1. */
function digitIn(c: number, base: number): number {
  let d: number;
  if (c >= 0x30 && c <= 0x39) d = c - 0x30;
  else if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66) d = (c | 0x20) - 0x57;
  else return -1;
  return d < base ? d : -1;
}

/** Digits that can still fit an int8, per base (more significant digits are out of range for any width). */
const MAX_DIGITS: Record<number, number> = { 2: 64, 8: 22, 10: 19, 16: 16 };

function parsePgIntegerSlow(src: Uint8Array, s: number, e: number, width: IntWidth): number | bigint {
  const shownText = (): string => text(src, s, e);
  const invalid = (): FieldError => {
    const str = shownText();
    return new FieldError(
      str === '' ? 'empty value is not an integer' : `not an integer: ${quoteForMessage(str)}`,
    );
  };
  let i = s;
  let neg = false;
  if (i < e && (src[i] === 0x2d || src[i] === 0x2b)) {
    neg = src[i] === 0x2d;
    i++;
  }
  let base = 10;
  if (i + 1 < e && src[i] === 0x30) {
    const p = src[i + 1] | 0x20;
    base = p === 0x78 ? 16 : p === 0x6f ? 8 : p === 0x62 ? 2 : 10;
    if (base !== 10) i += 2;
  }
  const first = i;
  let digits = '';
  let any = false;
  for (; i < e; i++) {
    const c = src[i];
    if (digitIn(c, base) >= 0) {
      any = true;
      // Leading zeros say nothing; the rest is bounded so that no huge BigInt is ever built.
      if (digits === '' && c === 0x30) continue;
      digits += String.fromCharCode(c);
      if (digits.length > MAX_DIGITS[base]) throw outOfRange(shownText(), width);
      continue;
    }
    // An underscore separates two digits; in decimal it may not come first.
    if (c === 0x5f && !(base === 10 && i === first) && i + 1 < e && digitIn(src[i + 1], base) >= 0) continue;
    throw invalid();
  }
  if (!any) throw invalid();
  if (digits === '') return 0;
  const prefix = base === 16 ? '0x' : base === 8 ? '0o' : base === 2 ? '0b' : '';
  let big = BigInt(prefix + digits);
  if (neg) big = -big;
  const [lo, hi] = width === 8 ? [INT8_MIN, INT8_MAX] : [BigInt(LIMITS[width][0]), BigInt(LIMITS[width][1])];
  if (big < lo || big > hi) throw outOfRange(shownText(), width);
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

const SCIENTIFIC = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

function parseIntegerSlow(str: string, width: IntWidth): number | bigint {
  const m = SCIENTIFIC.exec(str);
  if (!m || (m[2] === '' && (m[3] === undefined || m[3] === ''))) {
    throw new FieldError(
      str === '' ? 'empty value is not an integer' : `not an integer: ${quoteForMessage(str)}`,
    );
  }
  const [, sign, intPart, fracPart = '', expPart] = m;
  let digits = (intPart + fracPart).replace(/^0+/, '');
  let exp = (expPart === undefined ? 0 : Number(expPart)) - fracPart.length;
  if (digits === '') return 0;
  if (exp < 0) {
    const cut = Math.max(0, digits.length + exp);
    if (/[^0]/.test(digits.slice(cut)))
      throw new FieldError(`not an integer (has a fractional part): ${quoteForMessage(str)}`);
    digits = digits.slice(0, cut);
    exp = 0;
    if (digits === '') return 0;
  }
  // 19 digits is the most an int8 can have: refuse before building a huge BigInt from 1e999999999.
  if (digits.length + exp > 19) throw outOfRange(str, width);
  const big = BigInt(sign + digits + '0'.repeat(exp));
  if (width === 8) {
    if (big < INT8_MIN || big > INT8_MAX) throw outOfRange(str, width);
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(big)
      : big;
  }
  const [lo, hi] = LIMITS[width];
  if (big < BigInt(lo) || big > BigInt(hi)) throw outOfRange(str, width);
  return Number(big);
}

/** A JS number/bigint given directly (SDK rows): exact integers only, in range. */
export function integerFromValue(v: number | bigint, width: IntWidth): number | bigint {
  if (typeof v === 'bigint') {
    const [lo, hi] =
      width === 8 ? [INT8_MIN, INT8_MAX] : [BigInt(LIMITS[width][0]), BigInt(LIMITS[width][1])];
    if (v < lo || v > hi) throw outOfRange(String(v), width);
    return width === 8 && (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
      ? v
      : Number(v);
  }
  if (!Number.isInteger(v)) throw new FieldError(`not an integer: ${v}`);
  if (!Number.isSafeInteger(v)) {
    if (width !== 8) throw outOfRange(String(v), width);
    // Past 2^53 a double no longer says which integer was meant.
    throw new FieldError(
      `${v} is beyond 2^53 and may have lost precision; pass int8 values as bigint or string`,
    );
  }
  const [lo, hi] = LIMITS[width];
  if (v < lo || v > hi) throw outOfRange(String(v), width);
  return v === 0 ? 0 : v;
}

// float4/float8 from text. parsePgFloat4/8 (CSV) are PostgreSQL's float4in/float8in, which hand the text to
// the C library's strtof/strtod (glibc): surrounding whitespace, decimal with exponent, hexadecimal
// (`0x1.8p3`), [+-]inf/infinity, [+-]nan optionally followed by `(chars)`; a finite literal that overflows,
// or a non-zero literal that underflows to zero, is out of range. parseFloat4/8 (NDJSON, the SDK) take the
// same minus the hexadecimal and `nan(...)` forms. Doubles round correctly in both JS and strtod, so float8
// matches PostgreSQL bit for bit; float4 additionally needs care where rounding twice (decimal -> double ->
// float) could differ from strtof's single rounding; hexadecimal literals are rounded once, exactly.
import { FieldError, quoteForMessage } from './errors';

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INFINITY = /^([+-]?)(?:inf|infinity)$/i;
const NAN = /^nan$/i;
const NONZERO_MANTISSA = /^[^eE]*[1-9]/;

function parse(str: string, label: string): number {
  const t = str.trim();
  if (DECIMAL.test(t)) {
    const d = Number(t);
    if (!Number.isFinite(d) || (d === 0 && NONZERO_MANTISSA.test(t))) {
      throw new FieldError(`value ${quoteForMessage(t)} is out of range for ${label}`);
    }
    return d;
  }
  const inf = INFINITY.exec(t);
  if (inf) return inf[1] === '-' ? -Infinity : Infinity;
  if (NAN.test(t)) return NaN;
  throw new FieldError(
    t === '' ? `empty value is not a number (${label})` : `not a number: ${quoteForMessage(str)} (${label})`,
  );
}

export function parseFloat8(str: string): number {
  return parse(str, 'float8');
}

export function parseFloat4(str: string): number {
  const d = parse(str, 'float4');
  const f = Math.fround(d);
  if (Number.isFinite(d) && (!Number.isFinite(f) || (f === 0 && d !== 0))) {
    throw new FieldError(`value ${quoteForMessage(str.trim())} is out of range for float4`);
  }
  if (f === d || !Number.isFinite(d)) return f;
  return float4DoubleRoundingFix(str.trim(), d, f);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float32 next to f (f finite, non-zero magnitude changes by one ulp) in direction dir. */
function nextFloat32(f: number, dir: 1 | -1): number {
  f32[0] = f;
  if (f === 0) {
    u32[0] = 1;
    return dir * f32[0];
  }
  // Moving away from zero increments the magnitude bits; towards zero decrements them.
  u32[0] += f > 0 === dir > 0 ? 1 : -1;
  return f32[0];
}

/**
 * d (the double nearest the decimal) sits exactly halfway between two floats only in rare cases; then
 * the decimal itself decides, compared exactly with BigInt, as strtof would.
 */
function float4DoubleRoundingFix(decimal: string, d: number, f: number): number {
  const other = nextFloat32(f, d > f ? 1 : -1);
  const mid = (f + other) / 2; // exact: two adjacent floats average to a 25-bit mantissa
  if (mid !== d) return f;
  const cmp = compareDecimalToDouble(decimal, mid);
  if (cmp === 0) return f; // a true tie: fround already chose the even neighbour
  const towardsOther = cmp > 0 === other > f;
  return towardsOther ? other : f;
}

/** Sign of (decimal - x), exactly. x is finite and non-zero. */
function compareDecimalToDouble(decimal: string, x: number): number {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(decimal)!;
  const digits = BigInt((m[2] || '') + (m[3] || '') || '0') * (m[1] === '-' ? -1n : 1n);
  const exp10 = Number(m[4] || 0) - (m[3] || '').length;
  // x = mant * 2^exp2 exactly.
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  const hi = buf.getUint32(0);
  const lo = buf.getUint32(4);
  const bexp = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp2 = bexp - 1075;
  if (bexp === 0) exp2 = -1074;
  else mant |= 1n << 52n;
  if (x < 0) mant = -mant;
  // Compare digits * 10^exp10 with mant * 2^exp2 after clearing the negative exponents.
  let left = digits;
  let right = mant;
  if (exp10 >= 0) left *= 10n ** BigInt(exp10);
  else right *= 10n ** BigInt(-exp10);
  if (exp2 >= 0) right <<= BigInt(exp2);
  else left <<= BigInt(-exp2);
  return left === right ? 0 : left > right ? 1 : -1;
}

// --- PostgreSQL / glibc rules (CSV) ----------------------------------------------------------------------

const PG_INFINITY = /^([+-]?)(?:inf|infinity)$/i;
const PG_NAN = /^[+-]?nan(?:\([0-9A-Za-z_]*\))?$/i;
const PG_HEX = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?$/;

/** Trims C isspace() bytes (space, \t, \n, \v, \f, \r) as float4in/float8in do, nothing else. */
function cTrim(str: string): string {
  let s = 0;
  let e = str.length;
  const sp = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);
  while (s < e && sp(str.charCodeAt(s))) s++;
  while (e > s && sp(str.charCodeAt(e - 1))) e--;
  return s === 0 && e === str.length ? str : str.slice(s, e);
}

const FLOAT4_MAX = 3.4028234663852886e38;

/**
 * A hexadecimal literal rounded once to `bits` of precision (53: double, 24: float) with IEEE subnormals,
 * half to even, as glibc's strtod/strtof do. null when the literal is not hexadecimal; Infinity/0 (with
 * the literal's sign) on overflow/underflow of a non-zero value, which the caller reports as out of range.
 */
function hexFloat(t: string, bits: 53 | 24): { value: number; range: boolean } | null {
  const m = PG_HEX.exec(t);
  if (!m) return null;
  const [, sign, intPart, fracPart = '', expPart = '0'] = m;
  if (intPart === '' && fracPart === '') return null;
  const neg = sign === '-';
  const digits = (intPart + fracPart).replace(/^0+/, '');
  if (digits === '') return { value: neg ? -0 : 0, range: true };
  // value = mant * 2^exp2, mant an integer of len bits, 2^top <= value < 2^(top + 1).
  const exp2 = Number(expPart) - 4 * fracPart.length;
  const len = 4 * (digits.length - 1) + (32 - Math.clz32(parseInt(digits[0], 16)));
  const top = len - 1 + exp2;
  if (!(top < 2000)) return { value: neg ? -Infinity : Infinity, range: false };
  if (!(top > -2000)) return { value: neg ? -0 : 0, range: false };
  const mant = BigInt('0x' + digits);
  // q: the exponent of the result's last bit (fixed at the subnormal range's for tiny values).
  const q = Math.max(top, bits === 53 ? -1022 : -126) - (bits - 1);
  const shift = q - exp2;
  let r: bigint;
  if (shift <= 0) r = mant << BigInt(-shift);
  else if (shift > len + 1) r = 0n;
  else {
    r = mant >> BigInt(shift);
    const rest = mant - (r << BigInt(shift));
    const half = 1n << BigInt(shift - 1);
    if (rest > half || (rest === half && (r & 1n) === 1n)) r += 1n;
  }
  // Exact: r has at most bits + 1 bits and q is within the format's range (or beyond it: Infinity).
  let value = Number(r) * 2 ** q;
  if (bits === 24 && value > FLOAT4_MAX) value = Infinity;
  return { value: neg ? -value : value, range: value !== 0 && Number.isFinite(value) };
}

function pgParse(str: string, label: 'float4' | 'float8'): number {
  const t = cTrim(str);
  if (DECIMAL.test(t)) {
    const d = Number(t);
    if (!Number.isFinite(d) || (d === 0 && NONZERO_MANTISSA.test(t))) {
      throw new FieldError(`value ${quoteForMessage(t)} is out of range for ${label}`);
    }
    return d;
  }
  const inf = PG_INFINITY.exec(t);
  if (inf) return inf[1] === '-' ? -Infinity : Infinity;
  if (PG_NAN.test(t)) return NaN;
  const hex = hexFloat(t, label === 'float8' ? 53 : 24);
  if (hex) {
    if (!hex.range) throw new FieldError(`value ${quoteForMessage(t)} is out of range for ${label}`);
    return hex.value;
  }
  throw new FieldError(
    t === '' ? `empty value is not a number (${label})` : `not a number: ${quoteForMessage(str)} (${label})`,
  );
}

/** float8in: PostgreSQL's float8 input, strtod's syntax included (hexadecimal, `nan(...)`). */
export function parsePgFloat8(str: string): number {
  return pgParse(str, 'float8');
}

/** float4in: PostgreSQL's float4 input (strtof), rounded once. */
export function parsePgFloat4(str: string): number {
  const t = cTrim(str);
  if (!DECIMAL.test(t)) return pgParse(t, 'float4'); // hexadecimal: rounded to float directly
  const d = pgParse(t, 'float4');
  const f = Math.fround(d);
  if (!Number.isFinite(f) || (f === 0 && d !== 0)) {
    throw new FieldError(`value ${quoteForMessage(t)} is out of range for float4`);
  }
  if (f === d) return f;
  return float4DoubleRoundingFix(t, d, f);
}

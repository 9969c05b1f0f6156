// float4/float8 from text, with PostgreSQL's float4in/float8in acceptance rules: surrounding whitespace,
// NaN, [+-]Infinity/inf, decimal with exponent; a finite literal that overflows, or a non-zero literal that
// underflows to zero, is out of range. Doubles round correctly in both JS and strtod, so float8 matches
// PostgreSQL bit for bit; float4 additionally needs care where rounding twice (decimal -> double -> float)
// could differ from strtof's single rounding.
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

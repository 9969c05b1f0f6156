// date / timestamp / timestamptz from ISO 8601 text, to PostgreSQL's binary values (days, microseconds
// since 2000-01-01), for NDJSON and the SDK (CSV passes these types to PostgreSQL's own input functions).
// Deliberately narrower than PostgreSQL's input: only ISO forms (no DateStyle-dependent 01/02/2024), years
// 0001-9999, and
//  - timestamptz must carry an offset (Z, +HH, +HHMM, +HH:MM): without one the session TimeZone of whichever
//    server connection COPY runs on would silently decide what instant was meant;
//  - timestamp (without time zone) must not carry one: PostgreSQL would silently drop it.
import { FieldError, quoteForMessage } from './errors';
import { isSpaceByte } from './parse-integer';

export const DATE_POS_INFINITY = 0x7fffffff;
export const DATE_NEG_INFINITY = -0x80000000;
export const TS_POS_INFINITY = 2n ** 63n - 1n;
export const TS_NEG_INFINITY = -(2n ** 63n);

/** Days from 1970-01-01 to 2000-01-01. */
const PG_EPOCH_DAYS = 10957;

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

function shown(src: Uint8Array, s: number, e: number): string {
  return quoteForMessage(Buffer.from(src.buffer, src.byteOffset + s, e - s).toString('utf8'));
}

/** n digits at i, or -1. */
function digits(src: Uint8Array, i: number, e: number, n: number): number {
  if (i + n > e) return -1;
  let v = 0;
  for (let k = 0; k < n; k++) {
    const d = src[i + k] - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** +1 / -1 when src[s, e) is [+-]infinity (any case), else 0. */
function infinity(src: Uint8Array, s: number, e: number): number {
  let sign = 1;
  if (src[s] === 0x2b || src[s] === 0x2d) {
    sign = src[s] === 0x2d ? -1 : 1;
    s++;
  }
  const word = 'infinity';
  if (e - s !== word.length) return 0;
  for (let k = 0; k < word.length; k++) if ((src[s + k] | 0x20) !== word.charCodeAt(k)) return 0;
  return sign;
}

/** YYYY-MM-DD at i -> days since 2000-01-01, or throws. */
function datePart(src: Uint8Array, i: number, e: number, s0: number, e0: number, label: string): number {
  const y = digits(src, i, e, 4);
  const m = src[i + 4] === 0x2d ? digits(src, i + 5, e, 2) : -1;
  const d = src[i + 7] === 0x2d ? digits(src, i + 8, e, 2) : -1;
  if (y < 0 || m < 0 || d < 0) {
    throw new FieldError(
      `not a ${label}: ${shown(src, s0, e0)} (expected ISO 8601, YYYY-MM-DD${label === 'date' ? '' : 'THH:MM:SS'})`,
    );
  }
  if (y < 1 || m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m)) {
    throw new FieldError(`no such date: ${shown(src, s0, e0)}`);
  }
  return daysFromCivil(y, m, d) - PG_EPOCH_DAYS;
}

export function parseDate(src: Uint8Array, s: number, e: number): number {
  while (s < e && isSpaceByte(src[s])) s++;
  while (e > s && isSpaceByte(src[e - 1])) e--;
  const inf = infinity(src, s, e);
  if (inf !== 0) return inf > 0 ? DATE_POS_INFINITY : DATE_NEG_INFINITY;
  const days = datePart(src, s, e, s, e, 'date');
  if (e - s !== 10) throw new FieldError(`not a date: ${shown(src, s, e)} (expected YYYY-MM-DD)`);
  return days;
}

/** Round half to even, as C's rint() does in the default rounding mode. */
function rint(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Microseconds since 2000-01-01 (UTC for timestamptz): a number when exact, else a bigint. */
export function parseTimestamp(src: Uint8Array, s: number, e: number, withZone: boolean): number | bigint {
  const label = withZone ? 'timestamptz' : 'timestamp';
  while (s < e && isSpaceByte(src[s])) s++;
  while (e > s && isSpaceByte(src[e - 1])) e--;
  const inf = infinity(src, s, e);
  if (inf !== 0) return inf > 0 ? TS_POS_INFINITY : TS_NEG_INFINITY;
  const days = datePart(src, s, e, s, e, label);
  let i = s + 10;
  let secs = 0;
  let micros = 0;
  let hasTime = false;
  if (i < e && (src[i] === 0x54 || src[i] === 0x74 || src[i] === 0x20)) {
    const h = digits(src, i + 1, e, 2);
    const mi = src[i + 3] === 0x3a ? digits(src, i + 4, e, 2) : -1;
    if (h < 0 || mi < 0) throw badTime(src, s, e, label);
    i += 6;
    let sec = 0;
    if (i < e && src[i] === 0x3a) {
      sec = digits(src, i + 1, e, 2);
      if (sec < 0) throw badTime(src, s, e, label);
      i += 3;
      if (i < e && src[i] === 0x2e) {
        const fs = ++i;
        while (i < e && src[i] >= 0x30 && src[i] <= 0x39) i++;
        const n = i - fs;
        if (n === 0) throw badTime(src, s, e, label);
        if (n <= 6) {
          micros = digits(src, fs, i, n) * 10 ** (6 - n);
        } else {
          // PostgreSQL: rint(strtod(".ddddddd") * 1e6); the same doubles give the same microseconds.
          micros = rint(
            Number('0.' + Buffer.from(src.buffer, src.byteOffset + fs, n).toString('latin1')) * 1e6,
          );
        }
      }
    }
    // Like PostgreSQL: second 60 rolls over into the next minute (12:34:60.5 is 12:35:00.5) and 24:00:00 is
    // the end of the day, but no time of day may lie beyond it (23:59:60.5, 24:00:00.5 are refused).
    if (mi > 59 || sec > 60 || (h * 3600 + mi * 60 + sec) * 1e6 + micros > 86400e6) {
      throw new FieldError(`no such time of day in ${label} ${shown(src, s, e)}`);
    }
    secs = h * 3600 + mi * 60 + sec;
    hasTime = true;
  }
  // Optional offset, possibly after spaces.
  let j = i;
  while (j < e && src[j] === 0x20) j++;
  let offset: number | undefined;
  if (j < e) {
    const c = src[j];
    if ((c === 0x5a || c === 0x7a) && j + 1 === e) offset = 0;
    else if (c === 0x2b || c === 0x2d) {
      const oh = digits(src, j + 1, e, 2);
      let om = 0;
      let k = j + 3;
      if (oh >= 0 && k < e) {
        if (src[k] === 0x3a) k++;
        om = digits(src, k, e, 2);
        k += 2;
      }
      if (oh < 0 || om < 0 || om > 59 || oh > 15 || k !== e) {
        throw new FieldError(`bad UTC offset in ${label} ${shown(src, s, e)} (use Z, +HH, +HHMM or +HH:MM)`);
      }
      offset = (c === 0x2d ? -1 : 1) * (oh * 3600 + om * 60);
    } else throw badTime(src, s, e, label);
    if (!hasTime && offset !== undefined) throw badTime(src, s, e, label);
  }
  if (withZone && offset === undefined) {
    throw new FieldError(
      `timestamptz ${shown(src, s, e)} has no UTC offset; add Z or +HH:MM (otherwise the server's TimeZone would decide)`,
    );
  }
  if (!withZone && offset !== undefined) {
    throw new FieldError(
      `timestamp (without time zone) ${shown(src, s, e)} has a UTC offset, which PostgreSQL would silently drop; remove it or use a timestamptz column`,
    );
  }
  const total = days * 86400 + secs - (offset ?? 0);
  // |total| < 9e9 s keeps total * 1e6 + micros below 2^53: exact as a double.
  if (total > -9e9 && total < 9e9) return total * 1e6 + micros;
  return BigInt(total) * 1000000n + BigInt(micros);
}

function badTime(src: Uint8Array, s: number, e: number, label: string): FieldError {
  return new FieldError(
    `not a ${label}: ${shown(src, s, e)} (expected ISO 8601, YYYY-MM-DD[THH:MM[:SS[.ffffff]]]${label === 'timestamptz' ? ' with Z or +HH:MM' : ''})`,
  );
}

/** [year, month, day] of days since 1970-01-01 (H. Hinnant's civil_from_days). */
function civilFromDays(z: number): [number, number, number] {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

const pad = (n: number, w: number): string => String(n).padStart(w, '0');

/** ISO text of days since 2000-01-01, as PostgreSQL prints it (DateStyle ISO). */
export function formatDate(days: number): string {
  if (days === DATE_POS_INFINITY) return 'infinity';
  if (days === DATE_NEG_INFINITY) return '-infinity';
  const [y, m, d] = civilFromDays(days + PG_EPOCH_DAYS);
  return `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;
}

/** `YYYY-MM-DD HH:MM:SS.ffffff` (+00 with zone) of microseconds since 2000-01-01; exact for any int64. */
export function formatTimestamp(micros: number | bigint, withZone: boolean): string {
  if (micros === TS_POS_INFINITY) return 'infinity';
  if (micros === TS_NEG_INFINITY) return '-infinity';
  let days: number;
  let usOfDay: number;
  if (typeof micros === 'bigint') {
    let d = micros / 86400000000n;
    if (micros < 0n && d * 86400000000n !== micros) d -= 1n;
    days = Number(d);
    usOfDay = Number(micros - d * 86400000000n);
  } else {
    days = Math.floor(micros / 86400e6);
    usOfDay = micros - days * 86400e6;
  }
  const secs = Math.floor(usOfDay / 1e6);
  const us = usOfDay - secs * 1e6;
  const time = `${pad(Math.floor(secs / 3600), 2)}:${pad(Math.floor(secs / 60) % 60, 2)}:${pad(secs % 60, 2)}.${pad(us, 6)}`;
  return `${formatDate(days)} ${time}${withZone ? '+00' : ''}`;
}

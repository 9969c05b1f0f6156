// The per-type text parsers: PostgreSQL's acceptance rules where we follow them, clear errors where we
// are deliberately stricter (timestamps), and exactness (int8 past 2^53, float4 rounding, microseconds).
import fc from 'fast-check';
import { FieldError } from '../../ingest/formats/errors';
import { parseBool } from '../../ingest/formats/parse-bool';
import { parseFloat4, parseFloat8, parsePgFloat4, parsePgFloat8 } from '../../ingest/formats/parse-float';
import { integerFromValue, parseInteger, parsePgInteger } from '../../ingest/formats/parse-integer';
import { parseUuidInto } from '../../ingest/formats/parse-uuid';
import { formatDate, formatTimestamp, parseDate, parseTimestamp } from '../../ingest/formats/pg-datetime';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');
const int = (s: string, w: 2 | 4 | 8): number | bigint => parseInteger(b(s), 0, b(s).length, w);
const pgInt = (s: string, w: 2 | 4 | 8): number | bigint => parsePgInteger(b(s), 0, b(s).length, w);
const ts = (s: string, tz: boolean): number | bigint => parseTimestamp(b(s), 0, b(s).length, tz);
const date = (s: string): number => parseDate(b(s), 0, b(s).length);

describe('parseInteger', () => {
  it.each([
    ['0', 4, 0],
    ['-0', 4, 0],
    ['+42', 4, 42],
    ['  17\t', 4, 17],
    ['007', 2, 7],
    ['32767', 2, 32767],
    ['-32768', 2, -32768],
    ['2147483647', 4, 2147483647],
    ['-2147483648', 4, -2147483648],
    ['1e3', 4, 1000],
    ['1.0', 8, 1],
    ['1.50e1', 8, 15],
    ['9007199254740993', 8, 9007199254740993n],
    ['9223372036854775807', 8, 9223372036854775807n],
    ['-9223372036854775808', 8, -9223372036854775808n],
    ['123456789012345', 8, 123456789012345],
  ] as const)('%j as int%d = %p', (s, w, want) => {
    expect(int(s, w)).toBe(want);
  });

  it.each([
    ['', 4, /empty value/],
    ['abc', 4, /not an integer: "abc"/],
    ['1.5', 8, /fractional part/],
    ['32768', 2, /out of range for int2/],
    ['2147483648', 4, /out of range for int4/],
    ['9223372036854775808', 8, /out of range for int8/],
    ['-9223372036854775809', 8, /out of range for int8/],
    ['1e999999999', 8, /out of range/],
    ['1e-99999', 8, /fractional/],
    ['0x10', 4, /not an integer/],
    ['1 2', 4, /not an integer/],
    ['-', 4, /not an integer/],
  ] as const)('%j as int%d is refused', (s, w, msg) => {
    expect(() => int(s, w)).toThrow(FieldError);
    expect(() => int(s, w)).toThrow(msg);
  });

  it('is exact for every int8 (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (v) => {
        expect(BigInt(int(String(v), 8))).toBe(v);
      }),
    );
  });

  it('takes JS numbers only when exact', () => {
    expect(integerFromValue(2 ** 53 - 1, 8)).toBe(2 ** 53 - 1);
    expect(() => integerFromValue(2 ** 53 + 2, 8)).toThrow(/beyond 2\^53/);
    expect(integerFromValue(2n ** 62n, 8)).toBe(2n ** 62n);
    expect(() => integerFromValue(1.5, 4)).toThrow(/not an integer/);
    expect(() => integerFromValue(70000, 2)).toThrow(/out of range for int2/);
  });
});

describe('parsePgInteger (PostgreSQL 16 int2in/int4in/int8in, for CSV)', () => {
  it.each([
    ['0', 4, 0],
    ['-0', 4, 0],
    [' +42\t', 4, 42],
    ['0x1F', 4, 31],
    ['-0X1f', 4, -31],
    ['0o17', 4, 15],
    ['0b101', 4, 5],
    ['1_000', 4, 1000],
    ['0x_ff', 4, 255],
    ['0_1', 4, 1],
    ['007', 2, 7],
    ['-32768', 2, -32768],
    ['-0x80000000', 4, -2147483648],
    ['0x7FFFFFFFFFFFFFFF', 8, 9223372036854775807n],
    ['-0x8000000000000000', 8, -9223372036854775808n],
    ['0b' + '1'.repeat(53), 8, 2 ** 53 - 1],
    ['000000000000000000000000000042', 8, 42],
  ] as const)('%j as int%d = %p', (s, w, want) => {
    expect(pgInt(s, w)).toBe(want);
  });

  it.each([
    ['', 4, /empty value/],
    ['1.0', 4, /not an integer: "1.0"/],
    ['1e3', 4, /not an integer/],
    ['.0', 4, /not an integer/],
    ['1.', 4, /not an integer/],
    ['1__0', 4, /not an integer/],
    ['_1', 4, /not an integer/],
    ['1_', 4, /not an integer/],
    ['0x', 4, /not an integer/],
    ['0b2', 4, /not an integer/],
    ['- 1', 4, /not an integer/],
    ['0x80000000', 4, /out of range for int4/],
    ['32768', 2, /out of range for int2/],
    ['0x8000000000000000', 8, /out of range for int8/],
    ['1' + '0'.repeat(100000), 8, /out of range for int8/],
  ] as const)('%j as int%d is refused', (s, w, msg) => {
    expect(() => pgInt(s, w)).toThrow(FieldError);
    expect(() => pgInt(s, w)).toThrow(msg);
  });

  it('is exact for every int8, in every radix (property)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        fc.constantFrom(2, 8, 10, 16),
        (v, radix) => {
          const prefix = { 2: '0b', 8: '0o', 10: '', 16: '0x' }[radix];
          const text = `${v < 0n ? '-' : ''}${prefix}${(v < 0n ? -v : v).toString(radix)}`;
          expect(BigInt(pgInt(text, 8))).toBe(v);
        },
      ),
    );
  });
});

describe('parsePgFloat4/8 (PostgreSQL float4in/float8in with glibc strtod, for CSV)', () => {
  it.each([
    ['0x1p3', 8],
    ['0x1.8p1', 3],
    ['-0X.8', -0.5],
    ['0x10', 16],
    ['0x1P-1074', 5e-324],
    ['0x1.fffffffffffffp1023', 1.7976931348623157e308],
    ['0x1.00000000000008p0', 1], // a tie: to even
    ['0x1.00000000000018p0', 1.0000000000000004],
    ['0x0p99999', 0],
    [' 1e5\n', 100000],
    ['inf', Infinity],
    ['-INFINITY', -Infinity],
  ])('float8 %j', (s, want) => {
    expect(parsePgFloat8(s)).toBe(want);
  });

  it.each(['nan', '-nan', 'NaN', 'nan()', 'nan(a_1)'])('float8 %j is NaN', (s) => {
    expect(parsePgFloat8(s)).toBeNaN();
  });

  it.each(['0x1p1024', '0x1p-1076', '0x1.fffffffffffff8p1023', '1e309', '1e-400'])(
    'float8 %j is out of range',
    (s) => {
      expect(() => parsePgFloat8(s)).toThrow(/out of range for float8/);
    },
  );

  it.each(['0x', '0x1p', '0x.p1', '0x1_0', 'nan(', 'nan(-)', 'infinit', '1e', '1_0', ''])(
    'float8 refuses %j',
    (s) => {
      expect(() => parsePgFloat8(s)).toThrow(/not a number/);
    },
  );

  it('float4 rounds hexadecimal once, with subnormals and overflow as strtof', () => {
    expect(parsePgFloat4('0x1.000001p0')).toBe(1); // a tie: to even
    expect(parsePgFloat4('0x1.0000018p0')).toBe(Math.fround(1 + 2 ** -23));
    expect(parsePgFloat4('0x1.8p-150')).toBe(2 ** -149);
    expect(parsePgFloat4('0x1.fffffep127')).toBe(3.4028234663852886e38);
    expect(() => parsePgFloat4('0x1.ffffffp127')).toThrow(/out of range for float4/);
    expect(() => parsePgFloat4('0x1p-150')).toThrow(/out of range for float4/);
    expect(parsePgFloat4('1.00000005960464477539062500000000000000001')).toBe(1 + 2 ** -23);
  });
});

describe('parseFloat4/8', () => {
  it.each([
    ['1.5', 1.5],
    [' -0.25 ', -0.25],
    ['1e308', 1e308],
    ['.5', 0.5],
    ['5.', 5],
    ['Infinity', Infinity],
    ['-inf', -Infinity],
    ['4.9e-324', 5e-324], // subnormal: accepted, as strtod gives it
  ])('float8 %j', (s, want) => {
    expect(parseFloat8(s)).toBe(want);
  });

  it('keeps the sign of -0 and parses NaN', () => {
    expect(Object.is(parseFloat8('-0'), -0)).toBe(true);
    expect(parseFloat8('NaN')).toBeNaN();
  });

  it.each(['1e309', '-1e400', '1e-400', 'abc', '', '0x1p3', '1,5', 'nan1'])('float8 refuses %j', (s) => {
    expect(() => parseFloat8(s)).toThrow(FieldError);
  });

  it.each(['1e39', '1e-50'])('float4 refuses %j (out of range)', (s) => {
    expect(() => parseFloat4(s)).toThrow(/out of range for float4/);
  });

  it('float4 rounds the decimal once, like strtof, at a double-rounding trap', () => {
    // 1 + 2^-24 is exactly halfway between the floats 1 and 1 + 2^-23; a decimal just above it rounds
    // to the nearest double = the midpoint, and fround would then tie to even (1). strtof gives 1 + 2^-23.
    const justAbove = '1.00000005960464477539062500000000000000001';
    expect(Number(justAbove)).toBe(1 + 2 ** -24);
    expect(parseFloat4(justAbove)).toBe(1 + 2 ** -23);
    expect(parseFloat4('1.00000005960464477539062499999999999999999')).toBe(1);
    expect(parseFloat4('1.000000059604644775390625')).toBe(1); // the exact tie: to even
  });

  it('float4 of the shortest text of any float is that float (property)', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true }), (f) => {
        expect(Object.is(parseFloat4(Object.is(f, -0) ? '-0' : String(f)), f)).toBe(true);
      }),
    );
  });
});

describe('parseBool', () => {
  it.each([
    ['t', true],
    ['TRUE', true],
    ['tr', true],
    [' yes ', true],
    ['on', true],
    ['1', true],
    ['f', false],
    ['False', false],
    ['n', false],
    ['off', false],
    ['of', false],
    ['0', false],
  ])('%j -> %p', (s, want) => {
    expect(parseBool(b(s), 0, b(s).length)).toBe(want);
  });
  it.each(['o', '2', 'truee', '', 'yes!'])('refuses %j', (s) => {
    expect(() => parseBool(b(s), 0, b(s).length)).toThrow(/not a boolean/);
  });
});

describe('parseUuidInto', () => {
  const hex = (s: string): string => {
    const out = Buffer.alloc(16);
    parseUuidInto(b(s), 0, b(s).length, out, 0);
    return out.toString('hex');
  };
  it.each([
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
    '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}',
    'a0eebc999c0b4ef8bb6d6bb9bd380a11',
    'a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11',
  ])('%s', (s) => {
    expect(hex(s)).toBe('a0eebc999c0b4ef8bb6d6bb9bd380a11');
  });
  it.each([
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111',
    '{a0eebc999c0b4ef8bb6d6bb9bd380a11',
    'g0eebc999c0b4ef8bb6d6bb9bd380a11',
    '-a0eebc999c0b4ef8bb6d6bb9bd380a11',
    '',
  ])('refuses %j', (s) => {
    expect(() => hex(s)).toThrow(/not a uuid/);
  });
});

describe('dates and timestamps', () => {
  const epoch2000 = Date.UTC(2000, 0, 1);

  it('dates are days since 2000-01-01, checked against the calendar', () => {
    expect(date('2000-01-01')).toBe(0);
    expect(date('1999-12-31')).toBe(-1);
    expect(date('2024-02-29')).toBe((Date.UTC(2024, 1, 29) - epoch2000) / 86400000);
    expect(date('0001-01-01')).toBe(-730119);
    expect(date('9999-12-31')).toBe(2921939);
    expect(date('infinity')).toBe(0x7fffffff);
    expect(date('-Infinity')).toBe(-0x80000000);
    for (const bad of [
      '2023-02-29',
      '2024-13-01',
      '2024-00-10',
      '0000-01-01',
      '2024-1-1',
      '24-01-01',
      '2024-01-01T00:00',
      '01/02/2024',
      '',
    ]) {
      expect(() => date(bad)).toThrow(FieldError);
    }
  });

  it('timestamptz needs an offset and applies it; timestamp refuses one', () => {
    expect(ts('2000-01-01T00:00:00Z', true)).toBe(0);
    expect(ts('2000-01-01 02:00:00+02', true)).toBe(0);
    expect(ts('2000-01-01T05:30:00+0530', true)).toBe(0);
    expect(ts('1999-12-31T19:00:00-05:00', true)).toBe(0);
    expect(ts('2000-01-01T00:00:00.5 +00:00', true)).toBe(500000);
    expect(() => ts('2000-01-01T00:00:00', true)).toThrow(/has no UTC offset/);
    expect(() => ts('2000-01-01', true)).toThrow(/has no UTC offset/);
    expect(() => ts('2000-01-01T00:00:00Z', false)).toThrow(/would silently drop/);
    expect(ts('2000-01-01', false)).toBe(0);
    expect(ts('2000-01-01T00:00', false)).toBe(0);
    expect(() => ts('2000-01-01T00:00:00+16:00', true)).toThrow(/bad UTC offset/);
    expect(() => ts('2000-01-01T25:00:00Z', true)).toThrow(/no such time/);
    expect(() => ts('2000-01-01T12:60:00Z', true)).toThrow(/no such time/);
    expect(() => ts('2000-01-01T12:00:00.Z', true)).toThrow(/not a timestamptz/);
    expect(() => ts('2000-02-30T00:00:00Z', true)).toThrow(/no such date/);
    expect(() => ts('yesterday', true)).toThrow(/not a timestamptz/);
  });

  it('handles 24:00, leap seconds and PostgreSQL rounding of > 6 fractional digits', () => {
    expect(ts('2000-01-01T24:00:00Z', true)).toBe(86400e6);
    expect(ts('2000-01-01T23:59:60Z', true)).toBe(86400e6);
    expect(ts('2000-01-01T12:34:60.5Z', true)).toBe((12 * 3600 + 35 * 60) * 1e6 + 500000);
    expect(ts('2000-01-01T23:59:59.9999999Z', true)).toBe(86400e6);
    // PostgreSQL allows no time of day beyond 24:00:00.
    for (const late of ['23:59:60.5', '24:00:00.5', '23:59:60.9999999', '24:00:01', '24:01'])
      expect(() => ts(`2000-01-01T${late}Z`, true)).toThrow(/no such time of day/);
    expect(ts('2000-01-01T00:00:00.1234564Z', true)).toBe(123456);
    // 0.1234565 * 1e6 is exactly 123456.5 as a double; rint() ties to even (the PG round trip checks this too).
    expect(ts('2000-01-01T00:00:00.1234565Z', true)).toBe(123456);
    expect(ts('2000-01-01T00:00:00.1234575Z', true)).toBe(123458);
    expect(ts('2000-01-01T00:00:00.9999999Z', true)).toBe(1000000);
  });

  it('matches JS Date for any millisecond instant in 0001-9999 (property)', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('0001-01-01T00:00:00Z'),
          max: new Date('9999-12-31T23:59:59.999Z'),
          noInvalidDate: true,
        }),
        fc.integer({ min: 0, max: 999 }),
        (d, extraUs) => {
          const iso = d.toISOString().replace('Z', `${String(extraUs).padStart(3, '0')}Z`);
          const want = BigInt(d.getTime() - epoch2000) * 1000n + BigInt(extraUs);
          expect(BigInt(ts(iso, true))).toBe(want);
          expect(formatTimestamp(ts(iso, true), true)).toBe(`${iso.slice(0, 10)} ${iso.slice(11, 26)}+00`);
        },
      ),
    );
  });

  it('formatDate inverts parseDate (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -730119, max: 2921939 }), (days) => {
        const s = formatDate(days);
        expect(date(s)).toBe(days);
      }),
    );
  });
});

// The hand-written CSV parser against csv-parse (the reference implementation) on random well-formed CSV,
// and against an independent reading of PostgreSQL's CSV rules (helpers/pg-csv.ts) on random damaged CSV,
// in random chunkings: the same records (with NULL vs "" kept apart), or both refuse the input.
import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import {
  CSV_DOUBLED,
  CSV_MIXED,
  CSV_QUOTED,
  CsvParser,
  CsvSyntaxError,
} from '../../ingest/formats/csv-parser';
import { pgCsvRecords } from './helpers/pg-csv';
import { splitRandom } from './helpers/run-encoder';

type Rec = (string | null)[];

function ours(input: Buffer, seed: number): Rec[] | 'error' {
  const out: Rec[] = [];
  const parser = new CsvParser(
    {
      record(n, src, s, e, flags) {
        const rec: Rec = [];
        for (let k = 0; k < n; k++) {
          if (flags[k] === 0 && s[k] === e[k]) rec.push(null);
          else {
            let v = Buffer.from(src[k].subarray(s[k], e[k])).toString('utf8');
            if (flags[k] & CSV_MIXED)
              v = v.replace(/"((?:[^"]|"")*)"/g, (_m, q: string) => q.replace(/""/g, '"'));
            else if (flags[k] & CSV_DOUBLED) v = v.replace(/""/g, '"');
            expect(flags[k] & CSV_QUOTED ? true : !v.includes('"')).toBe(true);
            rec.push(v);
          }
        }
        out.push(rec);
      },
    },
    1 << 30,
    () => {
      throw new Error('oversize');
    },
  );
  try {
    for (const piece of splitRandom(input, seed, 1 + (seed % 17))) parser.write(piece);
    parser.end();
  } catch (err) {
    if (err instanceof CsvSyntaxError) return 'error';
    throw err;
  }
  return out;
}

function reference(input: Buffer): Rec[] | 'error' {
  try {
    return parse(input, {
      relax_column_count: true,
      cast: (value: string, ctx: { quoting: boolean }) => (!ctx.quoting && value === '' ? null : value),
    }) as Rec[];
  } catch {
    return 'error';
  }
}

const fieldText = fc.string({
  unit: fc.constantFrom('a', 'b', ',', '"', '\n', '\r', ' ', 'é', '😀'),
  maxLength: 8,
});
const field = fc.tuple(fieldText, fc.boolean()).map(([v, quote]) => {
  const needs = /[",\r\n]/.test(v) || v === '';
  return quote || needs ? `"${v.replace(/"/g, '""')}"` : v;
});
const nullOrField = fc.oneof({ weight: 1, arbitrary: fc.constant('') }, { weight: 5, arbitrary: field });

describe('CsvParser vs csv-parse', () => {
  it('agrees on well-formed CSV, any line ending, any chunking (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(nullOrField, { minLength: 1, maxLength: 5 }), { maxLength: 8 }),
        fc.constantFrom('\n', '\r\n'),
        fc.boolean(),
        (records, eol, finalEol) => {
          const text = records.map((r) => r.join(',')).join(eol) + (finalEol && records.length ? eol : '');
          const input = Buffer.from(text);
          const want = reference(input);
          expect(want).not.toBe('error');
          for (const seed of [1, 2, 3]) expect(ours(input, seed)).toEqual(want);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('accepts and refuses the same damaged CSV as PostgreSQL would (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(nullOrField, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 5 }),
        fc.nat(),
        fc.constantFrom('"', ',', '\n', '\r', '\r\n', 'x', '""'),
        fc.nat(),
        (records, at, insert, seed) => {
          const text = records.map((r) => r.join(',')).join('\n') + '\n';
          const i = at % (text.length + 1);
          const input = Buffer.from(text.slice(0, i) + insert + text.slice(i));
          expect(ours(input, seed)).toEqual(pgCsvRecords(input.toString('utf8')));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('CsvParser: PostgreSQL quoting and line ends', () => {
  it.each([
    ['"a"b\n', [['ab']]],
    ['a"b"c\n', [['abc']]],
    ['"a"b"c"\n', [['abc']]],
    ['a""b,x\n', [['ab', 'x']]],
    [' "a" ,x\n', [[' a ', 'x']]],
    ['a"b,c"d,e\n', [['ab,cd', 'e']]],
    ['"a""b"c\n', [['a"bc']]],
    ['x"\n"\n', [['x\n']]],
    ['a\r\nb\r\n', [['a'], ['b']]],
    ['a\rb\r', [['a'], ['b']]],
    ['a\nb', [['a'], ['b']]],
    ['"a\rb"\n"c\r\nd"\n', [['a\rb'], ['c\r\nd']]],
  ])('%j -> %j', (text, want) => {
    for (const seed of [1, 2, 3]) expect(ours(Buffer.from(text), seed)).toEqual(want);
    expect(pgCsvRecords(text)).toEqual(want);
  });

  it.each(['a\nb\r\n', 'a\r\nb\n', 'a\r\nb\r', 'a\rb\n', 'a\rb\r\n', 'a\nb\r', 'a"b\n', '"a\n'])(
    '%j is refused',
    (text) => {
      for (const seed of [1, 2, 3]) expect(ours(Buffer.from(text), seed)).toBe('error');
      expect(pgCsvRecords(text)).toBe('error');
    },
  );
});

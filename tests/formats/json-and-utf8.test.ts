// The byte-level JSON scanner against V8's JSON.parse (differential), and the streaming UTF-8 validator
// against Node's isUtf8 over random splits.
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { JsonSyntaxError, validateJson } from '../../ingest/formats/json-scanner';
import { Utf8Stream, firstInvalidUtf8 } from '../../ingest/formats/utf8';
import { splitRandom } from './helpers/run-encoder';

function ours(text: Buffer): boolean {
  try {
    validateJson(text, 0, text.length);
    return true;
  } catch (err) {
    if (!(err instanceof JsonSyntaxError)) throw err;
    return false;
  }
}

/** What we must refuse beyond JSON: NUL and lone surrogates, which PostgreSQL text/jsonb cannot hold. */
function hasUnrepresentable(v: unknown): boolean {
  if (typeof v === 'string')
    return v.includes('\0') || !(v as string & { isWellFormed(): boolean }).isWellFormed();
  if (Array.isArray(v)) return v.some(hasUnrepresentable);
  if (v && typeof v === 'object')
    return Object.entries(v).some(([k, x]) => hasUnrepresentable(k) || hasUnrepresentable(x));
  return false;
}

function v8(text: Buffer): boolean {
  try {
    return !hasUnrepresentable(JSON.parse(text.toString('utf8')));
  } catch {
    return false;
  }
}

describe('validateJson', () => {
  it('accepts exactly what JSON.parse accepts, minus NUL and lone surrogates (valid JSON, property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.json(), fc.json({ stringUnit: 'binary' })),
        fc.constantFrom('', ' ', '\n', '\t\r\n '),
        (json, ws) => {
          const text = Buffer.from(ws + json + ws);
          expect(ours(text)).toBe(v8(text));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('agrees with JSON.parse on mutated JSON (property)', () => {
    const alphabet = [
      '{',
      '}',
      '[',
      ']',
      '"',
      ':',
      ',',
      '\\',
      'u',
      'e',
      'E',
      '-',
      '+',
      '.',
      '0',
      '1',
      'n',
      't',
      'f',
      ' ',
      '\u0001',
      'é',
    ];
    fc.assert(
      fc.property(
        fc.oneof(fc.json(), fc.json({ stringUnit: 'binary' })),
        fc.nat(),
        fc.constantFrom(...alphabet),
        fc.boolean(),
        (json, at, ch, insert) => {
          const i = json.length === 0 ? 0 : at % json.length;
          const text = Buffer.from(
            insert ? json.slice(0, i) + ch + json.slice(i) : json.slice(0, i) + json.slice(i + 1),
          );
          expect(ours(text)).toBe(v8(text));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['"\\u0000"', /NUL/],
    ['"\\ud800"', /lone high surrogate/],
    ['"\\udc00"', /lone low surrogate/],
    ['"\\ud800\\u0041"', /lone high surrogate/],
    ['"a\tb"', /raw control character 0x09/],
    ['[1,]', /expected a value/],
    ['{"a" 1}', /expected ':'/],
    ['01', /unexpected data after the value/],
    ['', /empty value/],
    ['['.repeat(600) + ']'.repeat(600), /nested deeper than 512/],
  ])('refuses %j with a reason', (text, msg) => {
    expect(() => validateJson(Buffer.from(text), 0, Buffer.from(text).length)).toThrow(msg);
  });

  // A field is a slice of a larger buffer: what follows it (the next field, the next line) is not part of it.
  it.each([
    ['{', '}', /expected a key string, found end of line/],
    ['[1', ']', /expected ',' or '\]', found end of line/],
    ['{"k"', ':1}', /expected ':', found end of line/],
    ['{"k":', '1}', /unexpected end of line/],
    ['[', '0]', /expected a value, found end of line|unexpected end of line/],
  ])('refuses the truncated field %j whatever follows it in the buffer (%j)', (field, after, msg) => {
    const buf = Buffer.from(field + after);
    expect(() => validateJson(buf, 0, field.length)).toThrow(msg);
  });

  it('accepts surrogate pairs as escapes', () => {
    const t = Buffer.from('{"e": "\\ud83d\\ude00"}');
    expect(() => validateJson(t, 0, t.length)).not.toThrow();
  });
});

describe('UTF-8 validation', () => {
  const utf8Soup = fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a));
  const mostlyValid = fc
    .tuple(fc.string({ unit: 'binary', maxLength: 80 }), fc.nat(), fc.integer({ min: 0x80, max: 0xff }))
    .map(([s, at, byte]) => {
      const buf = Buffer.from(s, 'utf8');
      if (buf.length > 0 && at % 3 === 0) buf[at % buf.length] = byte;
      return buf;
    });

  it('firstInvalidUtf8 agrees with isUtf8 and points at a byte where validity breaks (property)', () => {
    fc.assert(
      fc.property(fc.oneof(utf8Soup, mostlyValid), (buf) => {
        const bad = firstInvalidUtf8(buf, 0, buf.length);
        expect(bad === -1).toBe(isUtf8(buf));
        if (bad >= 0) {
          expect(isUtf8(buf.subarray(0, bad))).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('Utf8Stream over any split gives the same verdict as isUtf8 over the whole (property)', () => {
    fc.assert(
      fc.property(fc.oneof(utf8Soup, mostlyValid), fc.integer({ min: 1, max: 1e9 }), (buf, seed) => {
        const stream = new Utf8Stream();
        let ok = true;
        for (const piece of splitRandom(buf, seed, 5)) {
          if (stream.check(piece, 0, piece.length) >= 0) {
            ok = false;
            break;
          }
        }
        if (ok && stream.truncated) ok = false;
        expect(ok).toBe(isUtf8(buf));
      }),
      { numRuns: 2000 },
    );
  });
});

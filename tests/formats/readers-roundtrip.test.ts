// Random TM rows written as NDJSON, CSV and TSV bodies (each in its own quoting), fed in random splits:
// the COPY stream they produce decodes back to exactly the rows.
import fc from 'fast-check';
import { TM_COLUMNS } from './helpers/columns';
import { NASTY_STRINGS } from './helpers/corpus';
import { csvField, decodeBinaryCopy, decodeTextCopy, escapeText } from './helpers/copy-decode';
import { runEncoder, splitRandom } from './helpers/run-encoder';

const text = fc
  .oneof(
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.constantFrom(...NASTY_STRINGS.filter((s) => s.length < 200)),
  )
  .filter((s) => !s.includes('\0') && (s as string & { isWellFormed(): boolean }).isWellFormed());
const row = fc.record({
  tm_id: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  source: text,
  target: text,
  created_by: fc.option(text),
});
type Row = ReturnType<typeof row.generate>['value'];
const NAMES = ['tm_id', 'source', 'target', 'created_by'];

function bodyOf(format: 'ndjson' | 'csv' | 'tsv', rows: Row[], crlf: boolean): Buffer {
  const eol = crlf ? '\r\n' : '\n';
  if (format === 'ndjson') {
    return Buffer.from(
      rows
        .map(
          (r) =>
            `{"tm_id":${r.tm_id},"source":${JSON.stringify(r.source)},"target":${JSON.stringify(r.target)},"created_by":${JSON.stringify(r.created_by)}}`,
        )
        .join(eol),
    );
  }
  if (format === 'csv') {
    return Buffer.from(
      [
        NAMES.join(','),
        ...rows.map((r) =>
          [String(r.tm_id), csvField(r.source), csvField(r.target), csvField(r.created_by)].join(','),
        ),
      ].join(eol) + eol,
    );
  }
  return Buffer.from(
    [
      NAMES.join('\t'),
      ...rows.map((r) =>
        [String(r.tm_id), escapeText(r.source), escapeText(r.target), escapeText(r.created_by)].join('\t'),
      ),
    ].join(eol) + eol,
  );
}

describe.each(['ndjson', 'csv', 'tsv'] as const)('%s', (format) => {
  it('random rows come back exactly, whatever the chunking and line ends (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(row, { maxLength: 15 }), fc.boolean(), fc.nat(), async (rows, crlf, seed) => {
        const r = await runEncoder(
          { format, tableColumns: TM_COLUMNS, chunkBytes: 512 },
          splitRandom(bodyOf(format, rows, crlf), seed, 1 + (seed % 300)),
        );
        expect(r.error).toBeUndefined();
        expect(r.rows).toBe(rows.length);
        const want = rows.map((x) => [x.tm_id, x.source, x.target, x.created_by]);
        if (format === 'tsv') {
          const got = decodeTextCopy(r.output).map(([id, ...rest]) => [BigInt(id!), ...rest]);
          expect(got).toEqual(want);
        } else if (rows.length > 0) {
          expect(decodeBinaryCopy(r.output, ['int8', 'text', 'text', 'text'])).toEqual(want);
        }
      }),
      { numRuns: 200 },
    );
  });
});

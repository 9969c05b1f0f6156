// The nasty corpus in every format, fed whole, byte by byte and in random splits: the output must be
// identical every time (quotes, escapes, CRLF, multi-byte characters and BOMs cut at every possible
// point), and must decode to exactly the corpus values.
import { PGCOPY_HEADER, encodePgCopy } from '../../ingest/formats';
import { TM_COLUMNS } from './helpers/columns';
import { NASTY_STRINGS } from './helpers/corpus';
import { csvField, decodeBinaryCopy, escapeText } from './helpers/copy-decode';
import { runEncoder, splitEvery, splitRandom } from './helpers/run-encoder';

const COLS = ['tm_id', 'source', 'target', 'created_by'];
const rows = NASTY_STRINGS.map((s, i) => ({
  tm_id: BigInt(i) * 1000000007n - 5n,
  source: s,
  target: NASTY_STRINGS[(i + 7) % NASTY_STRINGS.length],
  created_by: i % 3 === 0 ? null : NASTY_STRINGS[(i * 5) % NASTY_STRINGS.length],
}));
const expected = rows.map((r) => [r.tm_id, r.source, r.target, r.created_by]);

/** JSON with every non-ASCII character as a \u escape (surrogate pairs for astral ones). */
function asciiJson(v: unknown): string {
  return JSON.stringify(v).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

const BOM = '\ufeff';
const bodies: Record<
  string,
  { format: 'ndjson' | 'csv' | 'tsv' | 'pgcopy'; body: Buffer; requested?: string[] }
> = {
  'ndjson LF': {
    format: 'ndjson',
    body: Buffer.from(rows.map((r) => JSON.stringify({ ...r, tm_id: String(r.tm_id) })).join('\n') + '\n'),
  },
  'ndjson CRLF, BOM, \\u escapes, number ids': {
    format: 'ndjson',
    body: Buffer.from(
      BOM +
        rows
          .map(
            (r) =>
              `{"tm_id":${r.tm_id},"source":${asciiJson(r.source)},"target":${asciiJson(r.target)},"created_by":${asciiJson(r.created_by)}}`,
          )
          .join('\r\n'),
    ),
  },
  'csv CRLF with BOM': {
    format: 'csv',
    body: Buffer.from(
      BOM +
        COLS.join(',') +
        '\r\n' +
        rows
          .map((r) =>
            [String(r.tm_id), csvField(r.source), csvField(r.target), csvField(r.created_by)].join(','),
          )
          .join('\r\n') +
        '\r\n',
    ),
  },
  'csv LF, ?columns=': {
    format: 'csv',
    requested: COLS,
    body: Buffer.from(
      rows
        .map((r) =>
          [String(r.tm_id), csvField(r.source), csvField(r.target), csvField(r.created_by)].join(','),
        )
        .join('\n'),
    ),
  },
  'tsv LF': {
    format: 'tsv',
    body: Buffer.from(
      COLS.join('\t') +
        '\n' +
        rows
          .map((r) =>
            [String(r.tm_id), escapeText(r.source), escapeText(r.target), escapeText(r.created_by)].join(
              '\t',
            ),
          )
          .join('\n') +
        '\n',
    ),
  },
  'tsv CRLF with end marker': {
    format: 'tsv',
    body: Buffer.from(
      COLS.join('\t') +
        '\r\n' +
        rows
          .map((r) =>
            [String(r.tm_id), escapeText(r.source), escapeText(r.target), escapeText(r.created_by)].join(
              '\t',
            ),
          )
          .join('\r\n') +
        '\r\n\\.\r\n',
    ),
  },
  pgcopy: {
    format: 'pgcopy',
    requested: COLS,
    body: Buffer.concat([...encodePgCopy(TM_COLUMNS.slice(0, 4), rows)]),
  },
};

describe.each(Object.entries(bodies))('%s', (_name, { format, body, requested }) => {
  const opts = { format, tableColumns: TM_COLUMNS, requestedColumns: requested, chunkBytes: 16384 };
  let whole: Buffer;

  beforeAll(async () => {
    const r = await runEncoder(opts, [body]);
    expect(r.error).toBeUndefined();
    expect(r.rows).toBe(rows.length);
    whole = r.output;
  });

  it('decodes to exactly the corpus', () => {
    if (format === 'tsv') {
      // Passthrough: the data lines as sent (header and end marker removed).
      const text = body.toString('utf8');
      const data = text.slice(text.indexOf('\n') + 1).replace(/\\\.\r\n$/, '');
      expect(whole.toString('utf8')).toBe(data);
      return;
    }
    expect(whole.subarray(0, PGCOPY_HEADER.length).equals(PGCOPY_HEADER)).toBe(true);
    expect(decodeBinaryCopy(whole, ['int8', 'text', 'text', 'text'])).toEqual(expected);
  });

  it('gives the same bytes fed one byte at a time', async () => {
    const r = await runEncoder(opts, splitEvery(body, 1));
    expect(r.error).toBeUndefined();
    expect(r.output.equals(whole)).toBe(true);
  });

  it.each([1, 2, 3, 4, 5])('gives the same bytes in random splits (seed %d)', async (seed) => {
    const r = await runEncoder(opts, splitRandom(body, seed, seed * 37));
    expect(r.error).toBeUndefined();
    expect(r.output.equals(whole)).toBe(true);
  });
});

// The one list of the places where the worker deliberately reads an upload differently from PostgreSQL 16's
// own COPY of the same bytes (CSV: `FORMAT csv`, TSV: `FORMAT text`; NDJSON and pgcopy have no COPY
// equivalent but their own rules are listed too). docs/INGEST-API.md renders it as its "Known deviations"
// table (a test keeps the two identical), and tests/formats/parity-pg.test.ts loads a corpus of bodies both
// ways, requiring every CSV/TSV case to come out the same unless it names one of these entries, and every
// entry it names to really make a difference. Anything not listed here follows PostgreSQL.
import type { UploadFormat } from './content-type';

/** How a listed difference shows when the same body goes to COPY and to the worker. */
export type DeviationEffect =
  /** COPY stores the rows; the worker answers 4xx. */
  | 'worker-refuses'
  /** COPY fails; the worker stores the rows. */
  | 'worker-accepts'
  /** Both store rows, not the same ones. */
  | 'rows-differ';

export interface Deviation {
  readonly id: string;
  readonly formats: readonly UploadFormat[];
  /** The doc table's columns. */
  readonly where: string;
  readonly postgres: string;
  readonly worker: string;
  readonly why: string;
  /** What the parity test may observe for a case listed under this entry; empty: no COPY equivalent. */
  readonly effects: readonly DeviationEffect[];
}

export const DEVIATIONS: readonly Deviation[] = [
  {
    id: 'utf8-bom',
    formats: ['csv', 'tsv', 'ndjson'],
    where: 'a UTF-8 BOM (EF BB BF) at the very start of the body',
    postgres: 'part of the first line: of the first header name (HEADER MATCH fails) or of the first value',
    worker: 'removed',
    why: 'editors and spreadsheet exports write one; it is never meant as data',
    effects: ['worker-accepts', 'rows-differ'],
  },
  {
    id: 'header-names-columns',
    formats: ['csv', 'tsv'],
    where: 'the header line (unless `?columns=`)',
    postgres:
      '`HEADER` skips the first line, `HEADER MATCH` compares it with the column list of the statement',
    worker:
      'its names are the target columns, in any order, any subset of the writable columns; an empty body (no header) is 400',
    why: 'the client has no COPY statement to give a column list in; the header is that list',
    effects: [],
  },
  {
    id: 'data-after-end-marker',
    formats: ['csv', 'tsv'],
    where: 'anything after the end-of-data line `\\.`',
    postgres: 'ignored: the rows before the marker are stored, the rest of the body is discarded',
    worker: '`bad_row` naming the first row after the marker',
    why: 'rows after the marker would be dropped without a word (a concatenated or corrupted file)',
    effects: ['worker-refuses'],
  },
  {
    id: 'tsv-end-marker-inside-line',
    formats: ['tsv'],
    where: '`\\.` after data on a line (`abc\\.`, `a<TAB>\\.`)',
    postgres: 'ends the data there: the line up to `\\.` is the last row, the rest is discarded',
    worker: '`bad_row` (`\\.` is only the end marker alone on its line)',
    why: 'almost always a backslash that should have been escaped (`\\\\.`); PostgreSQL would silently drop the rest',
    effects: ['worker-refuses'],
  },
  {
    id: 'tsv-trailing-backslash',
    formats: ['tsv'],
    where: 'a body ending in a backslash that escapes nothing',
    postgres:
      'the backslash is dropped (`abc\\` stores `abc`; a last line of just `\\` stores an empty string)',
    worker: '`bad_row`',
    why: 'a body cut short; silently changing the last value hides that',
    effects: ['worker-refuses'],
  },
  {
    id: 'field-size-limit',
    formats: ['csv', 'tsv', 'ndjson', 'pgcopy'],
    where:
      'a value longer than `maxFieldBytes` (8 MiB by default), counted as stored (after unquoting/unescaping)',
    postgres: 'stored (up to 1 GB)',
    worker: '413 `too_large`',
    why: 'bounds the memory one upload can hold in the worker (see Limits)',
    effects: ['worker-refuses'],
  },
  {
    id: 'ndjson-integers',
    formats: ['ndjson'],
    where: 'NDJSON values for int2/int4/int8 columns (CSV follows PostgreSQL)',
    postgres:
      'the type input function (`int4in`…): decimal, `0x`/`0o`/`0b`, `_` separators; no `1.0`, no `1e3`',
    worker: 'decimal digits, plus integral decimal/exponent forms (`1.0`, `1e3`); no radix prefixes, no `_`',
    why: 'JSON writers print whole numbers as `1.0` or `1e3`; JSON numbers have no radix prefixes',
    effects: [],
  },
  {
    id: 'ndjson-floats',
    formats: ['ndjson'],
    where: 'NDJSON values for float4/float8 columns (CSV follows PostgreSQL)',
    postgres: '`float8in`: the C library `strtod`, also hexadecimal (`0x1p3`) and `nan(…)`',
    worker: 'decimal, `NaN` and infinities only',
    why: 'JSON numbers are decimal; other forms in a JSON string are almost always a mistake',
    effects: [],
  },
  {
    id: 'ndjson-datetime',
    formats: ['ndjson'],
    where: 'NDJSON values for date, timestamp, timestamptz columns (CSV follows PostgreSQL)',
    postgres:
      'every DateStyle form, `epoch`/`today`/`now`, BC, years > 9999, zone names; a timestamptz without offset in the session TimeZone; an offset on a timestamp silently dropped',
    worker:
      'ISO 8601 only, years 0001–9999, `±infinity`; timestamptz needs a time and an offset (`Z`, `±HH`, `±HHMM`, `±HH:MM`); timestamp refuses an offset',
    why: 'encoded to binary COPY by the worker: no server setting may decide what instant a value means',
    effects: [],
  },
  {
    id: 'ndjson-json-values',
    formats: ['ndjson'],
    where: 'NDJSON values for json/jsonb columns (CSV follows PostgreSQL)',
    postgres: '`json` keeps `\\u0000` and lone surrogates as text; nesting up to the stack depth limit',
    worker: 'RFC 8259 without `\\u0000` and lone surrogates, nesting ≤ 512, for json as for jsonb',
    why: 'the worker scans every NDJSON line itself; the limits keep that scan bounded',
    effects: [],
  },
  {
    id: 'ndjson-null',
    formats: ['ndjson'],
    where: 'JSON `null`, or a key of the column set missing from an object',
    postgres: '—',
    worker: 'SQL NULL, also for json/jsonb (a JSON `null` value cannot be stored); never the column DEFAULT',
    why: 'COPY has no per-row DEFAULT; one rule for every column type',
    effects: [],
  },
];

export const DEVIATION_IDS: ReadonlySet<string> = new Set(DEVIATIONS.map((d) => d.id));

/** The cells of each doc table row: where, formats, PostgreSQL 16 COPY, the worker, why. */
export function deviationRows(): string[][] {
  return DEVIATIONS.map((d) => [
    d.where,
    d.formats
      .map((f) => (f === 'ndjson' ? 'NDJSON' : f === 'pgcopy' ? 'pgcopy' : f.toUpperCase()))
      .join(', '),
    d.postgres,
    d.worker,
    d.why,
  ]);
}

/** The markdown table docs/INGEST-API.md carries (prettier may pad its columns). */
export function deviationTable(): string {
  const esc = (cell: string): string => cell.replace(/\|/g, '\\|');
  const lines = [
    '| where | formats | PostgreSQL 16 COPY | the worker | why |',
    '| --- | --- | --- | --- | --- |',
    ...deviationRows().map((cells) => `| ${cells.map(esc).join(' | ')} |`),
  ];
  return lines.join('\n') + '\n';
}

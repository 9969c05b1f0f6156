// The corpus of the CSV/TSV parity test (tests/formats/parity-pg.test.ts): bodies that the same bytes are
// loaded from twice, once with PostgreSQL's own COPY and once through the endpoint. Generated: every column
// type of tests/ingest/stack.ts's typed_rows (plus the binary-encoded types it lacks, in parity_types) x
// edge values, and the framing cases of each format (quoting, escapes, line ends, BOM, empty lines, end
// markers, header names, field counts, encodings, fields near the size limit). A case that names a
// deviation (ingest/formats/deviations.ts) must differ in the way that entry documents; every other case
// must come out the same.

export type ParityFormat = 'csv' | 'tsv';

export interface ParityCase {
  /** Unique, readable: format, column(s), what is tried. */
  id: string;
  format: ParityFormat;
  table: 'typed_rows' | 'parity_types';
  /** The upload's columns: the header line's names, or ?columns= when header is false. */
  columns: string[];
  /** The body starts with a header line (COPY gets HEADER MATCH); false: ?columns= (COPY without HEADER). */
  header: boolean;
  body: Buffer;
  /** An entry of DEVIATIONS this case shows. */
  deviation?: string;
}

/** The extra table: binary-encoded types typed_rows lacks, and two passed-through ones. */
export const PARITY_TYPES_SQL = `CREATE TABLE public.parity_types (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  i2 smallint,
  f4 real,
  js json,
  tsl timestamp,
  tm time,
  nm numeric
)`;

/** The field-size limit the test's worker runs with (the tier's default). */
export const FIELD_LIMIT = 8 * 1024 * 1024;

const INTEGERS = [
  '0',
  '-0',
  '+5',
  ' 12 ',
  '\t7\t',
  '\n8\r',
  '\u000b9\f',
  '007',
  '1.0',
  '1e3',
  '.0',
  '1.',
  '0x1F',
  '0X1f',
  '-0x1f',
  ' 0x10 ',
  '0o17',
  '0O17',
  '0b101',
  '0B11',
  '1_000',
  '1_000_000',
  '0x_ff',
  '0x1_f',
  '0b1_0',
  '1__0',
  '_1',
  '1_',
  '0x',
  '0o8',
  '0b2',
  '00x1',
  '0x1p3',
  '32767',
  '32768',
  '-32768',
  '-32769',
  '2147483647',
  '2147483648',
  '-2147483648',
  '-2147483649',
  '9223372036854775807',
  '9223372036854775808',
  '-9223372036854775808',
  '-9223372036854775809',
  '0x7FFFFFFFFFFFFFFF',
  '0x8000000000000000',
  '-0x8000000000000000',
  '0o777777777777777777777',
  '0b' + '1'.repeat(63),
  '0000000000000000000000000000042',
  '1' + '0'.repeat(30),
  '1 2',
  '+',
  '-',
  '- 1',
  '+-1',
  'abc',
  '١٢',
  '１２',
  '',
  '""',
];

const FLOATS = [
  '1.5',
  ' -0.25 ',
  '\t3\n',
  '-0',
  '0',
  '.5',
  '5.',
  '.',
  '1e308',
  '1e309',
  '-1e400',
  '1e-400',
  '4.9e-324',
  '2.5e-324',
  '2.4703282292062327e-324',
  '3.4028235e38',
  '3.4028236e38',
  '1e-45',
  '1e-46',
  '1.00000005960464477539062500000000000000001',
  '0.1',
  '123456789012345678901234567890',
  'NaN',
  'nan',
  '-nan',
  '+NaN',
  'nan()',
  'nan(123)',
  'nan(a_b)',
  'nan(',
  'nan(-)',
  'nanx',
  'inf',
  '+inf',
  '-INF',
  'infinity',
  '-Infinity',
  'INFINITY',
  'infinit',
  'infx',
  '0x1p3',
  '0x1.8p1',
  '0X.8',
  '0x10',
  '-0x1p-1',
  '0x1p+3',
  '0x1P-1074',
  '0x1p-1075',
  '0x1.8p-1075',
  '0x1p-149',
  '0x1p-150',
  '0x1p128',
  '0x1.fffffep127',
  '0x1.ffffffp127',
  '0x1p1024',
  '0x1.fffffffffffffp1023',
  '0x1.fffffffffffff8p1023',
  '0x1.00000000000008p0',
  '0x1.00000000000018p0',
  '0x1.000001p0',
  '0x1.0000018p0',
  '0x0p99999',
  '0x',
  '0x1p',
  '0x.p1',
  '0x1_0',
  '1e',
  '1.5e+',
  '1E5',
  '1e+05',
  '1_0',
  '1,5',
  '1 2',
  '',
  '""',
];

const BOOLS = [
  't',
  'TRUE',
  'tr',
  ' yes ',
  'Y',
  'on',
  'ON',
  'o',
  'of',
  'off',
  '1',
  '0',
  '01',
  '2',
  'f',
  'False',
  'n',
  'no ',
  'truee',
  'yes!',
  '',
  '""',
];

const UUIDS = [
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
  '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}',
  'a0eebc999c0b4ef8bb6d6bb9bd380a11',
  'a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11',
  '{a0eebc999c0b4ef8bb6d6bb9bd380a11}',
  ' a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11 ',
  '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111',
  'g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '-a0eebc999c0b4ef8bb6d6bb9bd380a11',
  'a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11',
  '',
];

const DATES = [
  '2024-02-29',
  '2023-02-29',
  '2024-1-1',
  ' 2024-01-08 ',
  '01/02/2024',
  '2024/01/08',
  'Jan 8 2024',
  '8 January 2024',
  '20240108',
  '2024-01-08 12:34:56',
  '2024-01-08T12:34:56Z',
  'infinity',
  '-infinity',
  'epoch',
  '0001-01-01',
  '0001-01-01 BC',
  '10000-01-01',
  '9999-12-31',
  '2024-13-01',
  'J2451187',
  'yesterday-ish',
  '',
];

const TIMESTAMPTZ = [
  '2024-05-01T12:34:56.789Z',
  '2024-05-01 12:34:56+02',
  '2024-05-01 12:34:56 +05:30',
  '2024-05-01T12:34:56-0800',
  '2024-05-01 12:34:56',
  '2024-05-01',
  '2024-05-01 12:34',
  '2024-05-01 12:34:56 UTC',
  '2024-05-01 12:34:56 Europe/Berlin',
  '2024-05-01 12:34:56 PST',
  '2024-05-01 12:34:56+05:30:15',
  '2024-05-01 12:34:56+15:59',
  '2024-05-01 12:34:56+16:00',
  '2000-01-01 23:59:60+00',
  '2000-01-01 23:59:60.5+00',
  '2000-01-01 12:34:60.5+00',
  '2000-01-01 24:00:00+00',
  '2000-01-01 24:00:00.5+00',
  '2000-01-01 23:59:59.9999999+00',
  '2000-01-01 00:00:00.1234565+00',
  'May 1 2024 12:00 PM',
  '2024-05-01 12:34:56 BC',
  'epoch',
  'infinity',
  '-infinity',
  'J2451187',
  'not a time',
  '',
];

const TIMESTAMPS = [
  '2024-05-01 12:34:56',
  '2024-05-01 12:34:56+02',
  '2024-05-01T12:34:56Z',
  '2000-01-01 23:59:60.5',
  '2000-01-01 24:00:00',
  '2024-05-01',
  'epoch',
  '',
];

const JSONS = [
  '{}',
  '[1, 2, {"a": null}]',
  '"s"',
  'null',
  'true',
  '-0',
  '1.5e3',
  '  [ ]  ',
  '{"a":"\\u0000"}',
  '"\\ud800"',
  '"\\ud83d\\ude00"',
  '"\\udc00\\ud800"',
  '{"a":"é\\u00e9"}',
  '01',
  '1.',
  '.5',
  'NaN',
  'tRue',
  '{"a":1,}',
  '{"a":1}{"b":2}',
  '{"a" 1}',
  '"a\tb"',
  '"\\x"',
  '1e999999',
  '['.repeat(600) + ']'.repeat(600),
  '{"k": "' + 'x'.repeat(5000) + '"}',
  '',
  '""',
];

const ARRAYS = [
  '{a,b}',
  '{"a b",NULL}',
  '{}',
  '{"\\"q\\"",x}',
  '{{a},{b}}',
  '{a,{b}}',
  'a',
  '{a',
  ' {a} ',
  '[1:2]={x,y}',
  '',
];

const VARCHARS = [
  'x'.repeat(20),
  'x'.repeat(21),
  'x'.repeat(20) + '   ',
  '€'.repeat(20),
  '€'.repeat(21),
  ' ',
  '',
];

const OTHER: Record<string, string[]> = {
  tm: ['12:34:56', '24:00:00', '23:59:60.5', '12:34:60', '1:2', 'allballs', '12:34:56+02', ''],
  nm: ['1.50', '-0', 'NaN', 'Infinity', '1e3', '0x1F', '1_000', ' 3 ', ''],
};

// --- encoders -----------------------------------------------------------------------------------------

/** A CSV field for the text v: quoted when it must be (or when forced); '' unquoted is NULL. */
function csvField(v: string, quote = false): string {
  if (quote || /[",\r\n]/.test(v)) return `"${v.replace(/"/g, '""')}"`;
  return v;
}

/** A COPY text field for the text v. */
function tsvField(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

const buf = (s: string): Buffer => Buffer.from(s, 'utf8');

let seq = 0;
function make(
  format: ParityFormat,
  what: string,
  columns: string[],
  body: string | Buffer,
  opts: { table?: ParityCase['table']; header?: boolean; deviation?: string } = {},
): ParityCase {
  seq++;
  return {
    id: `${format} #${seq} ${columns.join(',')}: ${what}`,
    format,
    table: opts.table ?? 'typed_rows',
    columns,
    header: opts.header ?? true,
    body: typeof body === 'string' ? buf(body) : body,
    deviation: opts.deviation,
  };
}

/** One value into one column, as a one-row body with a header. `raw` CSV: written as given (no quoting). */
function valueCase(
  format: ParityFormat,
  table: ParityCase['table'],
  column: string,
  value: string,
  raw = false,
): ParityCase {
  const field = format === 'csv' ? (raw ? value : csvField(value)) : tsvField(value);
  return make(format, JSON.stringify(value).slice(0, 60), [column], `${column}\n${field}\n`, { table });
}

function sweeps(format: ParityFormat): ParityCase[] {
  const out: ParityCase[] = [];
  const add = (table: ParityCase['table'], column: string, values: readonly string[]): void => {
    for (const v of values) {
      // In CSV '""' is written as it is (the empty string), everything else encoded as a field.
      if (v === '""') {
        if (format === 'csv') out.push(valueCase(format, table, column, v, true));
        continue;
      }
      out.push(valueCase(format, table, column, v));
    }
  };
  add('typed_rows', 'n', INTEGERS);
  add('typed_rows', 'b', INTEGERS);
  add(
    'parity_types',
    'i2',
    INTEGERS.filter((_v, i) => i % 2 === 0 || i > 30),
  );
  add('typed_rows', 'f', FLOATS);
  add('parity_types', 'f4', FLOATS);
  add('typed_rows', 'ok', BOOLS);
  add('typed_rows', 'u', UUIDS);
  add('typed_rows', 'd', DATES);
  add('typed_rows', 'ts', TIMESTAMPTZ);
  add('parity_types', 'tsl', TIMESTAMPS);
  add('typed_rows', 'j', JSONS);
  add('parity_types', 'js', JSONS);
  add('typed_rows', 'tags', ARRAYS);
  add('typed_rows', 'v', VARCHARS);
  add('parity_types', 'tm', OTHER.tm);
  add('parity_types', 'nm', OTHER.nm);
  if (format === 'csv') {
    // Quoted forms of typed values: quoting never changes a value in PostgreSQL's CSV, except for NULL.
    const quoted: [string, string][] = [
      ['b', '"42"'],
      ['b', '" 42 "'],
      ['b', '"0x2A"'],
      ['b', '"1_000"'],
      ['b', '4"2"'],
      ['ok', '"t"'],
      ['f', '"1.5"'],
      ['f', '"1"".5"'],
      ['u', '"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"'],
      ['d', '"2024-01-08"'],
      ['j', '"{}"'],
      ['j', '"{""a"": 1}"'],
      ['tags', '"{a,b}"'],
    ];
    for (const [column, field] of quoted) out.push(valueCase(format, 'typed_rows', column, field, true));
  }
  // Several typed columns at once: the binary and the text COPY path of a CSV upload.
  const multi = (columns: string[], rows: string[][]): ParityCase => {
    const sep = format === 'csv' ? ',' : '\t';
    const enc = (v: string | null): string =>
      v === null ? (format === 'csv' ? '' : '\\N') : format === 'csv' ? csvField(v, v === '') : tsvField(v);
    const lines = [
      columns.join(sep),
      ...rows.map((r) => r.map((v) => enc(v === '<NULL>' ? null : v)).join(sep)),
    ];
    return make(format, `${rows.length} rows of typed values`, columns, lines.join('\n') + '\n');
  };
  out.push(
    multi(
      ['t', 'n', 'b', 'f', 'ok', 'u', 'j', 'v'],
      [
        ['a', '1', '0x10', '1.5', 'yes', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', '{"k":[1]}', 'vc'],
        ['<NULL>', '<NULL>', '<NULL>', '<NULL>', '<NULL>', '<NULL>', '<NULL>', '<NULL>'],
        ['', ' 7 ', '-9223372036854775808', 'nan', 'of', 'A0EEBC999C0B4EF8BB6D6BB9BD380A11', '"s"', ''],
      ],
    ),
    multi(
      ['t', 'n', 'd', 'ts', 'tags'],
      [
        ['x', '1_0', '2024-01-08', '2024-05-01 12:00:00+02', '{a,"b c"}'],
        ['y', '0b11', 'epoch', '2024-05-01 12:00:00', '{}'],
      ],
    ),
    multi(
      ['n', 'b'],
      [
        ['1', '2'],
        ['3', '1.0'],
      ],
    ),
  );
  return out;
}

// --- CSV framing ---------------------------------------------------------------------------------------

function csvFraming(): ParityCase[] {
  const c = (
    what: string,
    columns: string[],
    body: string | Buffer,
    opts?: { header?: boolean; deviation?: string; table?: ParityCase['table'] },
  ): ParityCase => make('csv', what, columns, body, opts);
  const T = ['t'];
  const TV = ['t', 'v'];
  const BOM = '\ufeff';
  return [
    c('quoted comma', T, 't\n"a,b"\n'),
    c('doubled quote', T, 't\n"a""b"\n'),
    c('quoted then unquoted', T, 't\n"a"b\n'),
    c('unquoted, quoted, unquoted', T, 't\na"b"c\n'),
    c('quoted parts twice', T, 't\n"a"b"c"\n'),
    c('empty quoted part inside', T, 't\na""b\n'),
    c('spaces around a quoted part', T, 't\n "a" \n'),
    c('quoted comma inside a mixed field', TV, 't,v\na"b,c"d,e\n'),
    c('quote opened in an unquoted field, never closed', T, 't\na"b\n'),
    c('unterminated quote at the end', T, 't\n"abc'),
    c('unterminated quote over lines', TV, 't,v\n"abc,d\ne,f\n'),
    c('empty quoted string', TV, 't,v\n"",x\n'),
    c('NULL: empty unquoted', TV, 't,v\n,x\n'),
    c('NULL spellings are text', TV, 't,v\n\\N,NULL\nnull,"\\N"\n'),
    c('whitespace is data', TV, 't,v\n  a  ,\t b\t\n'),
    c('backslashes are data', TV, 't,v\na\\b,\\\\\n'),
    c('tab and control characters', T, 't\na\tb\u0001\u007f\n'),
    c('LF inside quotes', T, 't\n"a\nb"\n'),
    c('CRLF inside quotes', T, 't\n"a\r\nb"\n'),
    c('CR inside quotes', T, 't\n"a\rb"\n'),
    c('CRLF line ends', TV, 't,v\r\na,b\r\nc,d\r\n'),
    c('CR line ends', TV, 't,v\ra,b\rc,d\r'),
    c('LF line ends, last line without one', TV, 't,v\na,b\nc,d'),
    c('CRLF, last line without one', TV, 't,v\r\na,b\r\nc,d'),
    c('LF header, CRLF data', TV, 't,v\na,b\r\n'),
    c('CRLF header, LF data', TV, 't,v\r\na,b\n'),
    c('CRLF then a lone CR', TV, 't,v\r\na,b\rc,d\r\n'),
    c('CR then CRLF', TV, 't,v\ra,b\r\nc,d\r'),
    c('a lone CR inside an unquoted field', TV, 't,v\na\rb,c\n'),
    c('CRLF file ending in a lone CR', TV, 't,v\r\na,b\r'),
    c('CR file ending in CRLF', T, 't\ra\r\n'),
    c('header only', TV, 't,v\n'),
    c('header only, no line end', TV, 't,v'),
    c('empty body', TV, ''),
    c('empty body with ?columns=', TV, '', { header: false }),
    c('?columns=, data only', TV, 'a,b\nc,d\n', { header: false }),
    c('quoted header names', TV, '"t","v"\na,b\n'),
    c('header name with a space', TV, 't ,v\na,b\n'),
    c('header name in another case', TV, 'T,v\na,b\n'),
    c('header naming a column twice', ['t', 't'], 't,t\na,b\n'),
    c('header naming an unknown column', ['t', 'nope'], 't,nope\na,b\n'),
    c('header with a quoted part', T, '"t"\na\n'),
    c('too many fields', TV, 't,v\na,b,c\n'),
    c('too few fields', TV, 't,v\na\n'),
    c('empty line in the middle, one column', T, 't\na\n\nb\n'),
    c('empty line at the end, one column', T, 't\na\n\n'),
    c('two empty lines at the end, one column', T, 't\na\n\n\n'),
    c('empty line in the middle, two columns', TV, 't,v\na,b\n\nc,d\n'),
    c('empty line at the end, two columns', TV, 't,v\na,b\n\n'),
    c('empty line at the end, CRLF, two columns', TV, 't,v\r\na,b\r\n\r\n'),
    c('end marker', TV, 't,v\na,b\n\\.\n'),
    c('end marker, CRLF', TV, 't,v\r\na,b\r\n\\.\r\n'),
    c('end marker, CR', TV, 't,v\ra,b\r\\.\r'),
    c('end marker first', TV, 't,v\n\\.\n'),
    c('end marker, then rows', TV, 't,v\na,b\n\\.\nc,d\n', { deviation: 'data-after-end-marker' }),
    c('end marker, then an empty line', T, 't\na\n\\.\n\n', { deviation: 'data-after-end-marker' }),
    c('end marker at the very end, no line end: data', T, 't\na\n\\.'),
    c('end marker quoted: data', T, 't\na\n"\\."\n'),
    c('end marker after a space: data', T, 't\na\n \\.\n'),
    c('end marker with more on its line: data', T, 't\na\n\\.x\n'),
    c('end marker as a field of two: data', TV, 't,v\n\\.,b\n'),
    c('end marker with LF in a CRLF file', TV, 't,v\r\na,b\r\n\\.\nc,d\r\n'),
    c('end marker with CRLF in a LF file', TV, 't,v\na,b\n\\.\r\n'),
    c('end marker inside a quoted field', T, 't\n"a\n\\.\nb"\n'),
    c('end marker as the header', TV, '\\.\na,b\n'),
    c('BOM before the header', TV, `${BOM}t,v\na,b\n`, { deviation: 'utf8-bom' }),
    c('BOM before ?columns= data', TV, `${BOM}a,b\n`, { header: false, deviation: 'utf8-bom' }),
    c('BOM before a number, ?columns=', ['n'], `${BOM}1\n`, { header: false, deviation: 'utf8-bom' }),
    c('BOM inside a value', T, `t\na${BOM}\n${BOM}b\n`),
    c('two BOMs: the second is part of the name', T, `${BOM}${BOM}t\na\n`),
    c('invalid UTF-8', T, Buffer.concat([buf('t\n"a'), Buffer.from([0xff]), buf('"\n')])),
    c('overlong UTF-8', T, Buffer.concat([buf('t\n'), Buffer.from([0xc0, 0xaf]), buf('\n')])),
    c('UTF-8 surrogate', T, Buffer.concat([buf('t\n'), Buffer.from([0xed, 0xa0, 0x80]), buf('\n')])),
    c('NUL byte', T, Buffer.concat([buf('t\na'), Buffer.from([0]), buf('b\n')])),
    c('multi-byte text, emoji, RTL', TV, 't,v\n"€😀 👨‍👩‍👧",עברית\n'),
    c('field at the size limit', T, `t\n${'x'.repeat(FIELD_LIMIT)}\n`),
    c(
      'field at the size limit, doubled quotes',
      T,
      `t\n"${'"'.repeat(2 * 1024)}${'y'.repeat(FIELD_LIMIT - 1024)}"\n`,
    ),
    c('field one byte over the size limit', T, `t\n${'x'.repeat(FIELD_LIMIT + 1)}\n`, {
      deviation: 'field-size-limit',
    }),
    c('a 3 MiB field', TV, `t,v\n"${'ab,"" \n'.repeat(512 * 1024)}",x\n`),
  ];
}

// --- TSV framing ---------------------------------------------------------------------------------------

function tsvFraming(): ParityCase[] {
  const c = (
    what: string,
    columns: string[],
    body: string | Buffer,
    opts?: { header?: boolean; deviation?: string; table?: ParityCase['table'] },
  ): ParityCase => make('tsv', what, columns, body, opts);
  const T = ['t'];
  const TV = ['t', 'v'];
  const BOM = '\ufeff';
  const escapes: [string, string][] = [
    ['\\b\\f\\n\\r\\t\\v', 'control escapes'],
    ['\\\\', 'escaped backslash'],
    ['\\101\\x41\\x4\\7', 'octal and hex escapes'],
    ['\\xg\\z\\q\\ ', 'backslash + other characters'],
    ['\\303\\251', 'UTF-8 bytes as octal escapes'],
    ['\\xc3\\xa9', 'UTF-8 bytes as hex escapes'],
    ['\\1234', 'an octal escape takes 3 digits at most'],
    ['\\x414', 'a hex escape takes 2 digits at most'],
    ['\\0', 'NUL as an escape'],
    ['\\400', 'octal 400 (a NUL byte)'],
    ['\\377', 'an invalid UTF-8 byte as an escape'],
    ['\\303', 'a truncated UTF-8 sequence as an escape'],
    ['\\N', 'NULL'],
    ['\\\\N', 'the text \\N'],
    ['\\Nx', '\\N with more: the text Nx'],
    ['x\\N', 'text then \\N'],
    ['\\é', 'backslash + a multi-byte character'],
    ['a\\\tb', 'escaped tab'],
    ['a\\\nb', 'escaped LF'],
  ];
  return [
    ...escapes.map(([v, what]) => c(what, T, `t\n${v}\n`)),
    c('empty value is the empty string', TV, 't\tv\n\tx\n'),
    c('NULL and empty', TV, 't\tv\n\\N\t\n'),
    c('escaped CR in a CR file', T, 't\ra\\\rb\r'),
    c('escaped CR then LF in a CRLF file', T, 't\r\na\\\r\nb\r\n'),
    c('escaped LF at the end of the body', T, 't\na\\\n'),
    c('CRLF line ends', TV, 't\tv\r\na\tb\r\nc\td\r\n'),
    c('CR line ends', TV, 't\tv\ra\tb\rc\td\r'),
    c('LF, last line without one', TV, 't\tv\na\tb\nc\td'),
    c('CRLF, last line without one', TV, 't\tv\r\na\tb\r\nc\td'),
    c('LF header, CRLF data', TV, 't\tv\na\tb\r\n'),
    c('CRLF header, LF data', TV, 't\tv\r\na\tb\n'),
    c('CRLF then a lone CR', TV, 't\tv\r\na\tb\rc\td\r\n'),
    c('CR then CRLF', TV, 't\tv\ra\tb\r\nc\td\r'),
    c('a lone CR inside a LF file', TV, 't\tv\na\rb\tc\n'),
    c('CRLF file ending in a lone CR', TV, 't\tv\r\na\tb\r'),
    c('a body ending in CR, one line', T, 'a\r', { header: false }),
    c('?columns=, CRLF', TV, 'a\tb\r\nc\td\r\n', { header: false }),
    c('?columns=, CR', TV, 'a\tb\rc\td\r', { header: false }),
    c('header only', TV, 't\tv\n'),
    c('header only, no line end', TV, 't\tv'),
    c('header only, CR', TV, 't\tv\r'),
    c('empty body', TV, ''),
    c('empty body with ?columns=', TV, '', { header: false }),
    c('header escapes: octal', TV, '\\164\tv\na\tb\n'),
    c('header escapes: hex', TV, '\\x74\t\\x76\na\tb\n'),
    c('header escapes: backslash + letter', TV, '\\t\tv\na\tb\n'),
    c('header \\N', TV, '\\N\tv\na\tb\n'),
    c('header name with a space', TV, 't \tv\na\tb\n'),
    c('header naming an unknown column', ['t', 'nope'], 't\tnope\na\tb\n'),
    c('header naming a column twice', ['t', 't'], 't\tt\na\tb\n'),
    c('too many fields', TV, 't\tv\na\tb\tc\n'),
    c('too few fields', TV, 't\tv\na\n'),
    c('empty line in the middle, one column', T, 't\na\n\nb\n'),
    c('empty line at the end, one column', T, 't\na\n\n'),
    c('empty line in the middle, two columns', TV, 't\tv\na\tb\n\nc\td\n'),
    c('empty line at the end, two columns', TV, 't\tv\na\tb\n\n'),
    c('end marker', TV, 't\tv\na\tb\n\\.\n'),
    c('end marker, CRLF', TV, 't\tv\r\na\tb\r\n\\.\r\n'),
    c('end marker, CR', TV, 't\tv\ra\tb\r\\.\r'),
    c('end marker first', TV, 't\tv\n\\.\n'),
    c('end marker without its line end', TV, 't\tv\na\tb\n\\.'),
    c('end marker without its LF, CRLF file', TV, 't\tv\r\na\tb\r\n\\.\r'),
    c('end marker with CR in a LF file', TV, 't\tv\na\tb\n\\.\r'),
    c('end marker with LF in a CR file', TV, 't\tv\ra\tb\r\\.\n'),
    c('end marker with more on its line', TV, 't\tv\na\tb\n\\.x\n'),
    c('end marker, then rows', TV, 't\tv\na\tb\n\\.\nc\td\n', { deviation: 'data-after-end-marker' }),
    c('end marker, then an empty line', T, 't\na\n\\.\n\n', { deviation: 'data-after-end-marker' }),
    c('end marker after data on a line', T, 't\nabc\\.\n', { deviation: 'tsv-end-marker-inside-line' }),
    c('end marker as a second field', TV, 't\tv\na\t\\.\n', { deviation: 'tsv-end-marker-inside-line' }),
    c('end marker after data, then more', T, 't\nab\\.x\n'),
    c('escaped end marker', T, 't\n\\\\.\n'),
    c('trailing lone backslash', T, 't\nabc\\', { deviation: 'tsv-trailing-backslash' }),
    c('a last line of one backslash', T, 't\na\n\\', { deviation: 'tsv-trailing-backslash' }),
    c('BOM before the header', TV, `${BOM}t\tv\na\tb\n`, { deviation: 'utf8-bom' }),
    c('BOM before ?columns= data', TV, `${BOM}a\tb\n`, { header: false, deviation: 'utf8-bom' }),
    c('BOM inside a value', T, `t\na${BOM}\n`),
    c('invalid UTF-8', T, Buffer.concat([buf('t\na'), Buffer.from([0xff]), buf('\n')])),
    c('NUL byte', T, Buffer.concat([buf('t\na'), Buffer.from([0]), buf('\n')])),
    c('multi-byte text, emoji, RTL', TV, 't\tv\n€😀 👨‍👩‍👧\tעברית\n'),
    c('field at the size limit', T, `t\n${'x'.repeat(FIELD_LIMIT)}\n`),
    c('field one byte over the size limit', T, `t\n${'x'.repeat(FIELD_LIMIT + 1)}\n`, {
      deviation: 'field-size-limit',
    }),
    c('a 3 MiB value written as \\101 escapes (12 MiB on the wire)', T, `t\n${'\\101'.repeat(3 << 20)}\n`),
    c('the size limit exactly, as \\x41 escapes', T, `t\n${'\\x41'.repeat(FIELD_LIMIT)}\n`),
    c('one over the limit, as \\n escapes', T, `t\n${'\\n'.repeat(FIELD_LIMIT + 1)}\n`, {
      deviation: 'field-size-limit',
    }),
  ];
}

export function parityCorpus(): ParityCase[] {
  seq = 0;
  return [...sweeps('csv'), ...csvFraming(), ...sweeps('tsv'), ...tsvFraming()];
}

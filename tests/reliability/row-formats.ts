// Rows of the round-trip table written in each upload format by hand: the desktop app's side of the contract,
// independent of ingest/formats, so a property test compares the worker against an oracle it did not write.
import type { Format } from './http-client';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Columns of `rt_rows` (see RT_TABLE_SQL) in upload order. */
export interface RtRow {
  run: bigint;
  seq: number;
  t: string | null;
  t2: string | null;
  big: bigint | null;
  f: number | null;
  ok: boolean | null;
  u: string | null;
  j: Json | null;
}

export const RT_COLUMNS = ['run', 'seq', 't', 't2', 'big', 'f', 'ok', 'u', 'j'] as const;

export const RT_TABLE_SQL = (role: string) => `
CREATE TABLE public.rt_rows (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run bigint NOT NULL,
  seq integer NOT NULL,
  t text,
  t2 text,
  big bigint,
  f double precision,
  ok boolean,
  u uuid,
  j jsonb
);
GRANT INSERT ON public.rt_rows TO ${role};`;

const floatText = (x: number): string => (Object.is(x, -0) ? '-0' : String(x));

// --- NDJSON: one object per line, every column a key (null → JSON null).
function ndjsonLine(r: RtRow, eol: string): string {
  const parts = [
    `"run":${r.run}`,
    `"seq":${r.seq}`,
    `"t":${JSON.stringify(r.t)}`,
    `"t2":${JSON.stringify(r.t2)}`,
    `"big":${r.big === null ? 'null' : r.big.toString()}`,
    `"f":${r.f === null ? 'null' : floatText(r.f)}`,
    `"ok":${JSON.stringify(r.ok)}`,
    `"u":${JSON.stringify(r.u)}`,
    `"j":${JSON.stringify(r.j)}`,
  ];
  return `{${parts.join(',')}}${eol}`;
}

/** The jsonb column travels as JSON text in CSV and TSV (a JSON string value "" is the text `""`). */
function textual(r: RtRow, c: (typeof RT_COLUMNS)[number]): RtRow[keyof RtRow] {
  return c === 'j' && r.j !== null ? JSON.stringify(r.j) : r[c];
}

// --- CSV (RFC 4180): strings always quoted (so "" is an empty string), empty unquoted field = NULL.
function csvField(v: RtRow[keyof RtRow]): string {
  if (v === null) return '';
  if (typeof v === 'string') return `"${v.replace(/"/g, '""')}"`;
  if (typeof v === 'number') return floatText(v);
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  throw new Error('csvField: objects travel as JSON text (see textual)');
}

// --- TSV = PostgreSQL COPY text: \N = NULL, backslash escapes for \ tab LF CR.
function tsvText(s: string): string {
  return s.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!);
}
function tsvField(v: RtRow[keyof RtRow]): string {
  if (v === null) return '\\N';
  if (typeof v === 'string') return tsvText(v);
  if (typeof v === 'number') return floatText(v);
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  throw new Error('tsvField: objects travel as JSON text (see textual)');
}

// --- pgcopy: PostgreSQL binary COPY (big-endian, -1 length = NULL).
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}
function sized(data: Buffer): Buffer {
  return Buffer.concat([int32(data.length), data]);
}
export function pgcopyTupleOf(r: RtRow): Buffer {
  const f: Buffer[] = [];
  const nul = int32(-1);
  const i8 = (v: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(v);
    return sized(b);
  };
  f.push(i8(r.run));
  f.push(sized(int32(r.seq)));
  f.push(r.t === null ? nul : sized(Buffer.from(r.t, 'utf8')));
  f.push(r.t2 === null ? nul : sized(Buffer.from(r.t2, 'utf8')));
  f.push(r.big === null ? nul : i8(r.big));
  if (r.f === null) f.push(nul);
  else {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(r.f);
    f.push(sized(b));
  }
  f.push(r.ok === null ? nul : sized(Buffer.from([r.ok ? 1 : 0])));
  f.push(r.u === null ? nul : sized(Buffer.from(r.u.replace(/-/g, ''), 'hex')));
  f.push(
    r.j === null ? nul : sized(Buffer.concat([Buffer.from([1]), Buffer.from(JSON.stringify(r.j), 'utf8')])),
  );
  const count = Buffer.alloc(2);
  count.writeInt16BE(f.length);
  return Buffer.concat([count, ...f]);
}
export const PGCOPY_HEAD = Buffer.concat([SIGNATURE, int32(0), int32(0)]);
export const PGCOPY_TRAILER = Buffer.from([0xff, 0xff]);

export interface Encoded {
  body: Buffer;
  /** The `columns` query parameter, when the format does not name them in the body. */
  columns?: string;
}

/** The rows as an upload body; CSV/TSV with a header line or with ?columns, CRLF or LF, as asked. */
export function encodeRows(
  format: Format,
  rows: RtRow[],
  opts: { header?: boolean; crlf?: boolean } = {},
): Encoded {
  const eol = opts.crlf ? '\r\n' : '\n';
  const cols = RT_COLUMNS.join(',');
  switch (format) {
    case 'ndjson':
      return { body: Buffer.from(rows.map((r) => ndjsonLine(r, eol)).join(''), 'utf8') };
    case 'csv': {
      const lines = rows.map((r) => RT_COLUMNS.map((c) => csvField(textual(r, c))).join(',') + eol);
      if (opts.header) lines.unshift(cols + eol);
      return { body: Buffer.from(lines.join(''), 'utf8'), columns: opts.header ? undefined : cols };
    }
    case 'tsv': {
      // COPY text has no CRLF variant for data (a CR in a value is escaped); the line end is LF.
      const lines = rows.map((r) => RT_COLUMNS.map((c) => tsvField(textual(r, c))).join('\t') + '\n');
      if (opts.header) lines.unshift(RT_COLUMNS.join('\t') + '\n');
      return { body: Buffer.from(lines.join(''), 'utf8'), columns: opts.header ? undefined : cols };
    }
    case 'pgcopy':
      return {
        body: Buffer.concat([PGCOPY_HEAD, ...rows.map(pgcopyTupleOf), PGCOPY_TRAILER]),
        columns: cols,
      };
  }
}

/** Cuts a body into pieces at the given (sorted, deduplicated) offsets. */
export function splitAt(body: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.max(0, Math.min(body.length, c))))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    if (p > prev) pieces.push(body.subarray(prev, p));
    prev = p;
  }
  if (prev < body.length) pieces.push(body.subarray(prev));
  return pieces;
}

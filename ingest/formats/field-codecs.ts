// Per-column field writers: a value given as UTF-8 text bytes src[s, e) becomes one COPY field, either
// binary (int32 length + wire bytes) or text format (escaped, no delimiter). Readers guarantee the bytes
// are valid UTF-8 without NUL. Two rule sets:
//  - 'json' (NDJSON, the SDK): the writers check the value's syntax with the worker's own parsers and throw
//    FieldError; in text COPY the typed values are written in canonical form, so both COPY formats store
//    the same thing;
//  - 'postgres' (CSV): PostgreSQL's own input rules. Binary only for the types whose input function the
//    worker reproduces exactly (integers, floats, bool, uuid; text and json/jsonb go as text for the
//    server's recv function to check); in text COPY every value is passed as it is, escaped, to the input
//    function. date/timestamp/timestamptz have no 'postgres' binary writer: their input depends on DateStyle
//    and TimeZone, so a CSV upload with such a column is text COPY and the server parses them.
import type { ColumnInfo } from './columns';
import { TypeKind, isArrayType, typeKind } from './column-types';
import { CopyWriter } from './copy-writer';
import { FieldError } from './errors';
import * as jsonScanner from './json-scanner';
import * as bools from './parse-bool';
import * as floats from './parse-float';
import * as integers from './parse-integer';
import * as uuids from './parse-uuid';
import * as datetimes from './pg-datetime';

// Bound once: loaders that turn exports into getters (tsx/esbuild CommonJS) would otherwise pay a getter
// call per field.
const { validateJson } = jsonScanner;
const { parseBool } = bools;
const { parseFloat4, parseFloat8, parsePgFloat4, parsePgFloat8 } = floats;
const { parseInteger, parsePgInteger } = integers;
const { parseUuidInto } = uuids;
const { formatDate, formatTimestamp, parseDate, parseTimestamp } = datetimes;

export type FieldWriter = (w: CopyWriter, src: Uint8Array, s: number, e: number) => void;

function ascii(src: Uint8Array, s: number, e: number): string {
  return Buffer.from(src.buffer, src.byteOffset + s, e - s).toString('latin1');
}

// --- binary --------------------------------------------------------------------------------------------

const binText: FieldWriter = (w, src, s, e) => w.bytesField(src, s, e);

const binInt2: FieldWriter = (w, src, s, e) => {
  const v = parseInteger(src, s, e, 2) as number;
  w.ensure(6);
  w.int32(2);
  w.int16(v);
};

const binInt4: FieldWriter = (w, src, s, e) => {
  const v = parseInteger(src, s, e, 4) as number;
  w.ensure(8);
  w.int32(4);
  w.int32(v);
};

const binInt8: FieldWriter = (w, src, s, e) => {
  const v = parseInteger(src, s, e, 8);
  w.ensure(12);
  w.int32(8);
  if (typeof v === 'number') w.int64(v);
  else w.bigint64(v);
};

const binFloat4: FieldWriter = (w, src, s, e) => {
  const v = parseFloat4(ascii(src, s, e));
  w.ensure(8);
  w.int32(4);
  w.float32(v);
};

const binFloat8: FieldWriter = (w, src, s, e) => {
  const v = parseFloat8(ascii(src, s, e));
  w.ensure(12);
  w.int32(8);
  w.float64(v);
};

const binBool: FieldWriter = (w, src, s, e) => {
  const v = parseBool(src, s, e);
  w.ensure(5);
  w.int32(1);
  w.byte(v ? 1 : 0);
};

const binUuid: FieldWriter = (w, src, s, e) => {
  w.ensure(20);
  parseUuidInto(src, s, e, w.buf, w.pos + 4);
  w.int32(16);
  w.pos += 16;
};

const binDate: FieldWriter = (w, src, s, e) => {
  const v = parseDate(src, s, e);
  w.ensure(8);
  w.int32(4);
  w.int32(v);
};

function binTimestamp(withZone: boolean): FieldWriter {
  return (w, src, s, e) => {
    const v = parseTimestamp(src, s, e, withZone);
    w.ensure(12);
    w.int32(8);
    if (typeof v === 'number') w.int64(v);
    else w.bigint64(v);
  };
}

const binJson: FieldWriter = (w, src, s, e) => {
  validateJson(src, s, e);
  w.bytesField(src, s, e);
};

/** jsonb's binary form is a version byte (1) and the JSON text. */
export const binJsonbValidated: FieldWriter = (w, src, s, e) => {
  w.ensure(5 + e - s);
  w.int32(e - s + 1);
  w.byte(1);
  w.copyFrom(src, s, e);
};

const binJsonb: FieldWriter = (w, src, s, e) => {
  validateJson(src, s, e);
  binJsonbValidated(w, src, s, e);
};

const BINARY: Partial<Record<TypeKind, FieldWriter>> = {
  [TypeKind.Text]: binText,
  [TypeKind.Int2]: binInt2,
  [TypeKind.Int4]: binInt4,
  [TypeKind.Int8]: binInt8,
  [TypeKind.Float4]: binFloat4,
  [TypeKind.Float8]: binFloat8,
  [TypeKind.Bool]: binBool,
  [TypeKind.Uuid]: binUuid,
  [TypeKind.Date]: binDate,
  [TypeKind.Timestamp]: binTimestamp(false),
  [TypeKind.Timestamptz]: binTimestamp(true),
  [TypeKind.Json]: binJson,
  [TypeKind.Jsonb]: binJsonb,
};

// --- text format ---------------------------------------------------------------------------------------

const txtRaw: FieldWriter = (w, src, s, e) => w.escapedBytes(src, s, e);

function txtInt(width: 2 | 4 | 8): FieldWriter {
  return (w, src, s, e) => w.ascii(String(parseInteger(src, s, e, width)));
}

function floatText(v: number): string {
  return Object.is(v, -0) ? '-0' : String(v);
}

const txtFloat4: FieldWriter = (w, src, s, e) => w.ascii(floatText(parseFloat4(ascii(src, s, e))));
const txtFloat8: FieldWriter = (w, src, s, e) => w.ascii(floatText(parseFloat8(ascii(src, s, e))));
const txtBool: FieldWriter = (w, src, s, e) => w.ascii(parseBool(src, s, e) ? 't' : 'f');

const uuidScratch = Buffer.alloc(16);
const txtUuid: FieldWriter = (w, src, s, e) => {
  parseUuidInto(src, s, e, uuidScratch, 0);
  const h = uuidScratch.toString('hex');
  w.ascii(`${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`);
};

const txtDate: FieldWriter = (w, src, s, e) => w.ascii(formatDate(parseDate(src, s, e)));

function txtTimestamp(withZone: boolean): FieldWriter {
  return (w, src, s, e) => w.ascii(formatTimestamp(parseTimestamp(src, s, e, withZone), withZone));
}

const txtJson: FieldWriter = (w, src, s, e) => {
  validateJson(src, s, e);
  w.escapedBytes(src, s, e);
};

const TEXT: Record<TypeKind, FieldWriter> = {
  [TypeKind.Text]: txtRaw,
  [TypeKind.Int2]: txtInt(2),
  [TypeKind.Int4]: txtInt(4),
  [TypeKind.Int8]: txtInt(8),
  [TypeKind.Float4]: txtFloat4,
  [TypeKind.Float8]: txtFloat8,
  [TypeKind.Bool]: txtBool,
  [TypeKind.Uuid]: txtUuid,
  [TypeKind.Date]: txtDate,
  [TypeKind.Timestamp]: txtTimestamp(false),
  [TypeKind.Timestamptz]: txtTimestamp(true),
  [TypeKind.Json]: txtJson,
  [TypeKind.Jsonb]: txtJson,
  [TypeKind.Other]: txtRaw,
};

// --- PostgreSQL's input rules (CSV) -------------------------------------------------------------------

const pgInt2: FieldWriter = (w, src, s, e) => {
  const v = parsePgInteger(src, s, e, 2) as number;
  w.ensure(6);
  w.int32(2);
  w.int16(v);
};

const pgInt4: FieldWriter = (w, src, s, e) => {
  const v = parsePgInteger(src, s, e, 4) as number;
  w.ensure(8);
  w.int32(4);
  w.int32(v);
};

const pgInt8: FieldWriter = (w, src, s, e) => {
  const v = parsePgInteger(src, s, e, 8);
  w.ensure(12);
  w.int32(8);
  if (typeof v === 'number') w.int64(v);
  else w.bigint64(v);
};

const pgFloat4: FieldWriter = (w, src, s, e) => {
  const v = parsePgFloat4(ascii(src, s, e));
  w.ensure(8);
  w.int32(4);
  w.float32(v);
};

const pgFloat8: FieldWriter = (w, src, s, e) => {
  const v = parsePgFloat8(ascii(src, s, e));
  w.ensure(12);
  w.int32(8);
  w.float64(v);
};

/** PostgreSQL rules, binary COPY: only where the worker's parser is the server's input function exactly. */
const PG_BINARY: Partial<Record<TypeKind, FieldWriter>> = {
  [TypeKind.Text]: binText,
  [TypeKind.Int2]: pgInt2,
  [TypeKind.Int4]: pgInt4,
  [TypeKind.Int8]: pgInt8,
  [TypeKind.Float4]: pgFloat4,
  [TypeKind.Float8]: pgFloat8,
  [TypeKind.Bool]: binBool,
  [TypeKind.Uuid]: binUuid,
  // json_recv / jsonb_recv parse the text exactly as json_in / jsonb_in do.
  [TypeKind.Json]: binText,
  [TypeKind.Jsonb]: binJsonbValidated,
};

export type ValueRules = 'json' | 'postgres';

/** Whether a column can go to binary COPY under the given value rules. */
export function binaryUnder(col: { type: string; typeOid: number }, rules: ValueRules): boolean {
  return (rules === 'postgres' ? PG_BINARY : BINARY)[typeKind(col)] !== undefined;
}

export interface FieldCodec {
  readonly column: ColumnInfo;
  readonly kind: TypeKind;
  readonly isArray: boolean;
  /** Writes the value given as UTF-8 text. */
  readonly write: FieldWriter;
}

export function binaryFieldWriter(kind: TypeKind): FieldWriter | undefined {
  return BINARY[kind];
}

export function fieldCodecs(
  columns: readonly ColumnInfo[],
  copyFormat: 'binary' | 'text',
  rules: ValueRules = 'json',
): FieldCodec[] {
  return columns.map((column) => {
    const kind = typeKind(column);
    const write =
      rules === 'postgres'
        ? copyFormat === 'binary'
          ? PG_BINARY[kind]
          : txtRaw
        : copyFormat === 'binary'
          ? BINARY[kind]
          : TEXT[kind];
    if (!write)
      throw new FieldError(`column ${JSON.stringify(column.name)} (${column.type}) has no binary encoder`);
    return { column, kind, isArray: isArrayType(column), write };
  });
}

/** Ends a text-format field/row. */
export const TAB = 0x09;
export const NEWLINE = 0x0a;

export function writeTextNull(w: CopyWriter): void {
  w.ensure(2);
  w.byte(0x5c);
  w.byte(0x4e);
}

// Which encoder a column gets. Keyed on the type oid (built-in oids are fixed across PostgreSQL versions);
// the name is a fallback for callers that only know `typname` or format_type() text.

export enum TypeKind {
  Text,
  Int2,
  Int4,
  Int8,
  Float4,
  Float8,
  Bool,
  Uuid,
  Date,
  Timestamp,
  Timestamptz,
  Json,
  Jsonb,
  /** No binary encoder: text COPY, value passed through (PostgreSQL validates it). */
  Other,
}

const BY_OID: ReadonlyMap<number, TypeKind> = new Map([
  [25, TypeKind.Text], // text
  [1043, TypeKind.Text], // varchar: varcharrecv applies the typmod like the text input does
  [1042, TypeKind.Text], // bpchar: bpcharrecv pads/checks the typmod like the text input does
  [21, TypeKind.Int2],
  [23, TypeKind.Int4],
  [20, TypeKind.Int8],
  [700, TypeKind.Float4],
  [701, TypeKind.Float8],
  [16, TypeKind.Bool],
  [2950, TypeKind.Uuid],
  [1082, TypeKind.Date],
  [1114, TypeKind.Timestamp],
  [1184, TypeKind.Timestamptz],
  [114, TypeKind.Json],
  [3802, TypeKind.Jsonb],
]);

const BY_NAME: ReadonlyMap<string, TypeKind> = new Map([
  ['text', TypeKind.Text],
  ['varchar', TypeKind.Text],
  ['character varying', TypeKind.Text],
  ['bpchar', TypeKind.Text],
  ['character', TypeKind.Text],
  ['char', TypeKind.Text],
  ['int2', TypeKind.Int2],
  ['smallint', TypeKind.Int2],
  ['int4', TypeKind.Int4],
  ['integer', TypeKind.Int4],
  ['int', TypeKind.Int4],
  ['int8', TypeKind.Int8],
  ['bigint', TypeKind.Int8],
  ['float4', TypeKind.Float4],
  ['real', TypeKind.Float4],
  ['float8', TypeKind.Float8],
  ['double precision', TypeKind.Float8],
  ['bool', TypeKind.Bool],
  ['boolean', TypeKind.Bool],
  ['uuid', TypeKind.Uuid],
  ['date', TypeKind.Date],
  ['timestamp', TypeKind.Timestamp],
  ['timestamp without time zone', TypeKind.Timestamp],
  ['timestamptz', TypeKind.Timestamptz],
  ['timestamp with time zone', TypeKind.Timestamptz],
  ['json', TypeKind.Json],
  ['jsonb', TypeKind.Jsonb],
]);

export function typeKind(col: { type: string; typeOid: number }): TypeKind {
  const byOid = BY_OID.get(col.typeOid);
  if (byOid !== undefined) return byOid;
  // "character varying(20)" / "timestamp(3) with time zone": drop the typmod before the lookup.
  const name = col.type
    .toLowerCase()
    .replace(/\(\d+(,\s*\d+)?\)/, '')
    .replace(/\s+/g, ' ')
    .trim();
  return BY_NAME.get(name) ?? TypeKind.Other;
}

/** Array types arrive as `_text` (typname) or `text[]` (format_type). */
export function isArrayType(col: { type: string }): boolean {
  return col.type.startsWith('_') || col.type.endsWith(']');
}

export function hasBinaryEncoder(col: { type: string; typeOid: number }): boolean {
  return typeKind(col) !== TypeKind.Other;
}

export const KIND_LABEL: Record<TypeKind, string> = {
  [TypeKind.Text]: 'text',
  [TypeKind.Int2]: 'int2',
  [TypeKind.Int4]: 'int4',
  [TypeKind.Int8]: 'int8',
  [TypeKind.Float4]: 'float4',
  [TypeKind.Float8]: 'float8',
  [TypeKind.Bool]: 'bool',
  [TypeKind.Uuid]: 'uuid',
  [TypeKind.Date]: 'date',
  [TypeKind.Timestamp]: 'timestamp',
  [TypeKind.Timestamptz]: 'timestamptz',
  [TypeKind.Json]: 'json',
  [TypeKind.Jsonb]: 'jsonb',
  [TypeKind.Other]: 'other',
};

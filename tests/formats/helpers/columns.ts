// Column fixtures shaped like the catalog's (format_type names, base type oids).
import type { ColumnInfo } from '../../../ingest/formats';

export function col(
  name: string,
  type: string,
  typeOid: number,
  extra: Partial<ColumnInfo> = {},
): ColumnInfo {
  return { name, type, typeOid, nullable: true, hasDefault: false, ...extra };
}

export const OID = {
  bool: 16,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  json: 114,
  float4: 700,
  float8: 701,
  varchar: 1043,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
  _text: 1009,
} as const;

/** tm_entries as the catalog reports it (the identity column already filtered out by the catalog). */
export const TM_COLUMNS: ColumnInfo[] = [
  col('tm_id', 'bigint', OID.int8, { nullable: false }),
  col('source', 'text', OID.text, { nullable: false }),
  col('target', 'text', OID.text, { nullable: false }),
  col('created_by', 'text', OID.text),
  col('created_at', 'timestamp with time zone', OID.timestamptz, { nullable: false, hasDefault: true }),
];

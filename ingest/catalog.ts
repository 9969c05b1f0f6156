// Column names, types, nullability and defaults of the allowlisted tables, read from pg_catalog at start
// and on reload. GENERATED ALWAYS identity and generated columns are never writable.
import type { Pool } from 'pg';
import type { ColumnInfo } from './formats';
import { tableName, type TableConfig } from './config';

export interface CatalogTable {
  /** The client-facing name used in /v1/tables/{name}. */
  readonly name: string;
  readonly schema: string;
  readonly table: string;
  /**
   * The table's columns as clients may see them, in table order: the allowlisted ones, or all of them (then
   * including identity/generated columns, which the encoder refuses with a message saying why).
   */
  readonly columns: readonly ColumnInfo[];
  /** The subset clients can write. */
  readonly writable: readonly ColumnInfo[];
}

export class CatalogError extends Error {
  override name = 'CatalogError';
}

interface ColumnRow {
  nspname: string;
  relname: string;
  attname: string;
  type: string;
  type_oid: number;
  nullable: boolean;
  has_default: boolean;
  identity: string;
  generated: string;
}

// Domains are sent with their base type's binary format (PostgreSQL's domain_recv does the same), so the
// encoder sees the base type oid; format_type still shows the domain name.
const COLUMNS_SQL = `
SELECT n.nspname, c.relname, a.attname,
       format_type(a.atttypid, a.atttypmod) AS type,
       (CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END)::int AS type_oid,
       NOT a.attnotnull AS nullable,
       (a.atthasdef OR a.attidentity <> '') AS has_default,
       a.attidentity::text AS identity,
       a.attgenerated::text AS generated
  FROM unnest($1::text[], $2::text[]) AS want(nsp, rel)
  JOIN pg_namespace n ON n.nspname = want.nsp
  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = want.rel AND c.relkind IN ('r', 'p')
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_type t ON t.oid = a.atttypid
 ORDER BY n.nspname, c.relname, a.attnum`;

/** Reads the allowlisted tables; throws CatalogError naming every missing table or column. */
export async function loadCatalog(
  pool: Pick<Pool, 'query'>,
  tables: readonly TableConfig[],
): Promise<Map<string, CatalogTable>> {
  const { rows } = await pool.query<ColumnRow>(COLUMNS_SQL, [
    tables.map((t) => t.schema),
    tables.map((t) => t.table),
  ]);
  const byTable = new Map<string, ColumnRow[]>();
  for (const r of rows) {
    const key = `${r.nspname}\0${r.relname}`;
    let list = byTable.get(key);
    if (!list) byTable.set(key, (list = []));
    list.push(r);
  }
  const problems: string[] = [];
  const catalog = new Map<string, CatalogTable>();
  for (const t of tables) {
    const found = byTable.get(`${t.schema}\0${t.table}`);
    if (!found) {
      problems.push(
        `table ${t.schema}.${t.table} does not exist in the database (or the ingest role cannot see it)`,
      );
      continue;
    }
    const isWritable = (c: ColumnRow) => c.identity !== 'a' && c.generated === '';
    let chosen = found;
    if (t.columns) {
      const writable = found.filter(isWritable);
      const byName = new Map(writable.map((c) => [c.attname, c]));
      const all = new Set(found.map((c) => c.attname));
      for (const col of t.columns) {
        if (!all.has(col)) problems.push(`column ${t.schema}.${t.table}.${col} does not exist`);
        else if (!byName.has(col))
          problems.push(
            `column ${t.schema}.${t.table}.${col} is generated (GENERATED ALWAYS) and cannot be written`,
          );
      }
      const allowed = new Set(t.columns);
      chosen = writable.filter((c) => allowed.has(c.attname));
    }
    const columns = chosen.map((c): ColumnInfo => ({
      name: c.attname,
      type: c.type,
      typeOid: c.type_oid,
      nullable: c.nullable,
      hasDefault: c.has_default,
      identity: c.identity,
      generated: c.generated,
    }));
    catalog.set(tableName(t), {
      name: tableName(t),
      schema: t.schema,
      table: t.table,
      columns,
      writable: columns.filter((c) => c.identity !== 'a' && c.generated === ''),
    });
  }
  if (problems.length)
    throw new CatalogError(`ingest allowlist does not match the database:\n  ${problems.join('\n  ')}`);
  return catalog;
}

// The columns an upload writes and their types, which the local encoder needs: given by the caller (a
// desktop app ships its schema) or asked from the worker's GET /v1/tables/{table}.
import type { ColumnInfo } from '../formats/columns';
import { UploadError } from './errors';

export interface SchemaColumn {
  name: string;
  /** PostgreSQL type as format_type() prints it: bigint, text, "timestamp with time zone", jsonb, uuid … */
  type: string;
  /** Base type oid (domains resolved), when the worker says; 0 or absent: chosen by `type`. */
  typeOid?: number;
  nullable?: boolean;
  hasDefault?: boolean;
}

/** The writable columns of a table, in table order (as GET /v1/tables/{table} answers). */
export interface TableSchema {
  table?: string;
  columns: readonly SchemaColumn[];
}

/** The input cannot be uploaded as given (unknown column, no columns, unsupported type); nothing was sent. */
export class UploadInputError extends UploadError {
  override name = 'UploadInputError';
}

/** Encoder column descriptions. typeOid 0 (a caller's own schema): the encoder picks by type name. */
export function toColumnInfo(c: SchemaColumn): ColumnInfo {
  return {
    name: c.name,
    type: c.type,
    typeOid: c.typeOid ?? 0,
    nullable: c.nullable ?? true,
    hasDefault: c.hasDefault ?? false,
  };
}

/** Validates a GET /v1/tables/{table} body. */
export function parseTableSchema(body: unknown, table: string): TableSchema {
  const b = body as { table?: unknown; columns?: unknown } | null;
  const ok =
    b !== null &&
    typeof b === 'object' &&
    Array.isArray(b.columns) &&
    b.columns.every(
      (c: unknown) =>
        c !== null &&
        typeof c === 'object' &&
        typeof (c as SchemaColumn).name === 'string' &&
        typeof (c as SchemaColumn).type === 'string',
    );
  if (!ok)
    throw new UploadError(
      `GET /v1/tables/${table}: unexpected response ${JSON.stringify(body).slice(0, 200)}`,
    );
  return { table: typeof b.table === 'string' ? b.table : table, columns: b.columns as SchemaColumn[] };
}

/**
 * The target columns, in upload order: `names` when given (each must be in the schema), else the schema's
 * columns picked by `fallback` (all of them, or those a row must supply: no default).
 */
export function chooseColumns(
  schema: TableSchema,
  names: readonly string[] | undefined,
  fallback: 'all' | 'required',
): SchemaColumn[] {
  const byName = new Map(schema.columns.map((c) => [c.name, c]));
  const known = schema.columns.map((c) => c.name).join(', ');
  if (names) {
    if (names.length === 0) throw new UploadInputError('columns: empty list');
    const seen = new Set<string>();
    return names.map((n) => {
      const c = byName.get(n);
      if (!c)
        throw new UploadInputError(
          `column ${JSON.stringify(n)} is not a writable column of the table (writable: ${known})`,
        );
      if (seen.has(n)) throw new UploadInputError(`column ${JSON.stringify(n)} given twice`);
      seen.add(n);
      return c;
    });
  }
  const picked = fallback === 'all' ? [...schema.columns] : schema.columns.filter((c) => !c.hasDefault);
  if (picked.length === 0)
    throw new UploadInputError(`no columns to write (writable: ${known}); pass columns`);
  return picked;
}

// The COPY statement for an upload. Identifiers come from the catalog, but they are quoted anyway so that
// no name (mixed case, spaces, quotes) can ever change the statement.
import type { ColumnInfo } from './columns';

/** "a""b" for a"b: PostgreSQL's quote_ident rule, applied always. NUL cannot appear in an identifier. */
export function quoteIdent(name: string): string {
  if (name.includes('\0')) throw new Error('identifier contains a NUL character');
  return `"${name.replace(/"/g, '""')}"`;
}

export function copyStatement(
  table: { schema: string; name: string },
  columns: readonly ColumnInfo[],
  copyFormat: 'binary' | 'text',
): string {
  if (columns.length === 0) throw new Error('copyStatement: no columns');
  const cols = columns.map((c) => quoteIdent(c.name)).join(', ');
  // Text COPY reads in the client encoding unless told: our bytes are always UTF-8.
  const options = copyFormat === 'binary' ? 'FORMAT binary' : "FORMAT text, ENCODING 'UTF8'";
  return `COPY ${quoteIdent(table.schema)}.${quoteIdent(table.name)} (${cols}) FROM STDIN WITH (${options})`;
}

// The target column list of an upload: the names a client asked for, checked against the table's catalog.
import { BadRequestError, quoteForMessage } from './errors';

export interface ColumnInfo {
  name: string;
  /** pg_type.typname (int8, _text) or format_type() text (bigint, text[]); used for messages and arrays. */
  type: string;
  /** The type oid (the base type's for a domain); selects the encoder. */
  typeOid: number;
  nullable: boolean;
  hasDefault: boolean;
  /** pg_attribute.attidentity: 'a' = GENERATED ALWAYS, 'd' = BY DEFAULT, '' or absent = none. */
  identity?: string;
  /** pg_attribute.attgenerated: 's' = stored generated column (never writable). */
  generated?: string;
}

export interface ColumnSelection {
  /** Writable columns of the table, in table order. */
  writable: ColumnInfo[];
  byName: Map<string, ColumnInfo>;
  /** Every column of the table, writable or not, for better messages. */
  all: Map<string, ColumnInfo>;
}

/**
 * COPY FROM writes an identity column's given value even when it is GENERATED ALWAYS (it behaves like
 * OVERRIDING SYSTEM VALUE), so such columns are left out unless the caller opts in; stored generated
 * columns cannot be written at all.
 */
export function selectWritable(
  tableColumns: readonly ColumnInfo[],
  allowIdentityAlways = false,
): ColumnSelection {
  const writable = tableColumns.filter((c) => !c.generated && (allowIdentityAlways || c.identity !== 'a'));
  return {
    writable,
    byName: new Map(writable.map((c) => [c.name, c])),
    all: new Map(tableColumns.map((c) => [c.name, c])),
  };
}

/** Why `name` cannot be a target column, or undefined when it can. */
export function columnProblem(sel: ColumnSelection, name: string): string | undefined {
  if (sel.byName.has(name)) return undefined;
  const col = sel.all.get(name);
  if (!col) return `unknown column ${quoteForMessage(name)}`;
  if (col.generated) return `column ${quoteForMessage(name)} is a generated column and cannot be written`;
  return `column ${quoteForMessage(name)} is GENERATED ALWAYS AS IDENTITY and cannot be written`;
}

/**
 * Names (from ?columns=, a CSV/TSV header or NDJSON keys) -> ColumnInfo list in the given order.
 * Unknown, unwritable, empty or repeated names are a BadRequestError naming each offender.
 */
export function resolveColumns(sel: ColumnSelection, names: readonly string[], source: string): ColumnInfo[] {
  if (names.length === 0) throw new BadRequestError(`${source}: no columns given`);
  const out: ColumnInfo[] = [];
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const name of names) {
    if (name === '') {
      problems.push('empty column name');
      continue;
    }
    if (seen.has(name)) {
      problems.push(`column ${quoteForMessage(name)} given twice`);
      continue;
    }
    seen.add(name);
    const problem = columnProblem(sel, name);
    if (problem) problems.push(problem);
    else out.push(sel.byName.get(name)!);
  }
  if (problems.length > 0) {
    const known = sel.writable.map((c) => c.name).join(', ');
    throw new BadRequestError(`${source}: ${problems.join('; ')} (writable columns: ${known})`);
  }
  return out;
}

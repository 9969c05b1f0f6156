// PostgreSQL reports a bad COPY row in the error's context ("COPY t, line 7, column c: ..."). Our text
// output and TSV passthrough are one line per row (newlines inside values are escaped, the header is
// stripped before COPY), and binary COPY counts tuples as lines, so "line N" is data row N in every format.
import type { ColumnInfo } from './columns';
import type { UploadFormat } from './content-type';
import { RowError } from './errors';

export interface CopyErrorLike {
  message: string;
  where?: string;
  column?: string;
  detail?: string;
}

export function mapCopyError(
  err: CopyErrorLike,
  _format: UploadFormat,
  columns: readonly ColumnInfo[],
): RowError | null {
  if (!err.where) return null;
  let row = 0;
  let rest = '';
  // Functions and triggers add context lines above; the COPY line is the one we want.
  for (const line of err.where.split('\n')) {
    const m = /^COPY .*?, line (\d+)(.*)$/s.exec(line);
    if (m) {
      row = Number(m[1]);
      rest = m[2];
    }
  }
  if (!Number.isSafeInteger(row) || row < 1) return null;
  let column: string | undefined;
  if (rest.startsWith(', column ')) {
    const after = rest.slice(', column '.length);
    // Names may contain ':' or ', ': take the longest target column the context starts with.
    for (const c of columns) {
      if (after.startsWith(c.name) && (after.length === c.name.length || after[c.name.length] === ':')) {
        if (!column || c.name.length > column.length) column = c.name;
      }
    }
  }
  // Constraint violations carry the column in the error itself, not in the context.
  if (!column && err.column && columns.some((c) => c.name === err.column)) column = err.column;
  const detail = err.detail ? ` (${err.detail})` : '';
  const where = column ? `row ${row}, column ${JSON.stringify(column)}` : `row ${row}`;
  return new RowError(row, column, `${where}: ${err.message}${detail}`);
}

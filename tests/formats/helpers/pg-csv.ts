// An independent, string-level reading of CSV as PostgreSQL's COPY (FORMAT csv) does it, in its two passes
// (CopyReadLineText, then CopyReadAttributesCSV), for property tests of the streaming parser: lines end at
// an unquoted LF, CRLF or CR, whichever the first line used (another is an error); a quote toggles quoting
// anywhere in a field; "" inside quotes is one quote; an unquoted empty field is NULL. No end marker.

export type PgCsvRecord = (string | null)[];

export function pgCsvRecords(text: string): PgCsvRecord[] | 'error' {
  const lines: string[] = [];
  let eol: string | undefined;
  let inQuote = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') inQuote = !inQuote;
    if (inQuote || (c !== '\n' && c !== '\r')) continue;
    const kind = c === '\r' && text[i + 1] === '\n' ? '\r\n' : c;
    if (eol !== undefined && eol !== kind) return 'error';
    eol = kind;
    lines.push(text.slice(start, i));
    i += kind.length - 1;
    start = i + 1;
  }
  if (start < text.length) lines.push(text.slice(start));
  const records: PgCsvRecord[] = [];
  for (const line of lines) {
    const rec = fields(line);
    if (rec === 'error') return 'error';
    records.push(rec);
  }
  return records;
}

function fields(line: string): PgCsvRecord | 'error' {
  const out: PgCsvRecord = [];
  let value = '';
  let sawQuote = false;
  let i = 0;
  for (;;) {
    if (i >= line.length) {
      out.push(!sawQuote && value === '' ? null : value);
      return out;
    }
    const c = line[i++];
    if (c === ',') {
      out.push(!sawQuote && value === '' ? null : value);
      value = '';
      sawQuote = false;
    } else if (c === '"') {
      sawQuote = true;
      for (;;) {
        if (i >= line.length) return 'error';
        const d = line[i++];
        if (d === '"' && line[i] === '"') {
          value += '"';
          i++;
        } else if (d === '"') break;
        else value += d;
      }
    } else value += c;
  }
}

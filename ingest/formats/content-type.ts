// Content-Type -> upload format. Only UTF-8 is accepted: every text format is validated as UTF-8 and the
// database is UTF-8, so a declared other charset would be a lie we cannot honour.

export type UploadFormat = 'ndjson' | 'csv' | 'tsv' | 'pgcopy';

const BY_MEDIA_TYPE: Record<string, UploadFormat> = {
  'application/x-ndjson': 'ndjson',
  'text/csv': 'csv',
  'text/tab-separated-values': 'tsv',
  'application/x-pgcopy': 'pgcopy',
};

/**
 * `text/csv; charset=utf-8` -> 'csv'. Media type and parameter names are case-insensitive (RFC 9110);
 * a charset other than utf-8/utf8 (quoted or not) -> null, as is any unknown media type.
 */
export function formatFromContentType(ct: string | undefined): UploadFormat | null {
  if (!ct) return null;
  const parts = ct.split(';');
  const format = BY_MEDIA_TYPE[parts[0].trim().toLowerCase()];
  if (!format) return null;
  for (let i = 1; i < parts.length; i++) {
    const eq = parts[i].indexOf('=');
    if (eq < 0) {
      if (parts[i].trim() === '') continue;
      return null;
    }
    const name = parts[i].slice(0, eq).trim().toLowerCase();
    let value = parts[i].slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (name === 'charset' && !/^utf-?8$/i.test(value)) return null;
  }
  return format;
}

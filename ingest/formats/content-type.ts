// Content-Type <-> upload format: the one table of media types, used by the worker (to read a request's
// format), the client SDK and, through it, the CLI (to label what they send). Only UTF-8 is accepted: every
// text format is validated as UTF-8 and the database is UTF-8, so a declared other charset would be a lie we
// cannot honour.

export type UploadFormat = 'ndjson' | 'csv' | 'tsv' | 'pgcopy';

/** The media type of each upload format, as clients send it and docs/INGEST-API.md lists it. */
export const MEDIA_TYPES: Readonly<Record<UploadFormat, string>> = Object.freeze({
  ndjson: 'application/x-ndjson',
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  pgcopy: 'application/x-pgcopy',
});

const BY_MEDIA_TYPE: ReadonlyMap<string, UploadFormat> = new Map(
  (Object.entries(MEDIA_TYPES) as [UploadFormat, string][]).map(([format, type]) => [type, format]),
);

/**
 * `text/csv; charset=utf-8` -> 'csv'. Media type and parameter names are case-insensitive (RFC 9110);
 * a charset other than utf-8/utf8 (quoted or not) -> null, as is any unknown media type.
 */
export function formatFromContentType(ct: string | undefined): UploadFormat | null {
  if (!ct) return null;
  const parts = ct.split(';');
  const format = BY_MEDIA_TYPE.get(parts[0].trim().toLowerCase());
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

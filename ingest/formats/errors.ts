// The three ways an upload's bytes can be wrong, each mapped by the server to one response of docs/INGEST-API.md.

/** A malformed or invalid data row: 400 bad_row. `row` is 1-based over data rows (headers not counted). */
export class RowError extends Error {
  override name = 'RowError';
  constructor(
    readonly row: number,
    readonly column: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** A field (or the stream) over a configured size limit: 413 too_large with `limit`. */
export class LimitError extends Error {
  override name = 'LimitError';
  constructor(
    readonly limit: number,
    message: string,
    readonly row?: number,
    readonly column?: string,
  ) {
    super(message);
  }
}

/** The upload as a whole is unusable: unknown/duplicate column, bad header, bad pgcopy signature: 400 bad_request. */
export class BadRequestError extends Error {
  override name = 'BadRequestError';
}

/**
 * Thrown by a field parser/encoder that knows what is wrong but not where; the reader that called it adds
 * the row and column and rethrows a RowError. Never escapes this directory.
 */
export class FieldError extends Error {
  override name = 'FieldError';
}

/** `"name"` for messages: JSON quoting keeps control characters and odd whitespace visible. */
export function quoteForMessage(text: string, max = 60): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(cut);
}

// Which line of a file a data row starts on, for messages a person can act on ("line 1234"). Row numbers
// in errors count data rows only (as in docs/INGEST-API.md); the file is scanned once more, as a stream, only
// after an error, using each format's own rule for where a row ends.
import fs from 'node:fs';

export type FileFormat = 'csv' | 'tsv' | 'ndjson';

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * 1-based line where data row `row` (1-based) starts, or undefined when the file has fewer rows.
 * CSV: a line end inside double quotes does not end the record. TSV: a backslash escapes the next byte.
 * CSV and TSV lines end in LF, CRLF or a lone CR (PostgreSQL's COPY takes all three). NDJSON: blank lines
 * are not rows. `header`: the first record is a header line (CSV/TSV).
 */
export async function lineOfRow(
  file: string,
  format: FileFormat,
  row: number,
  header: boolean,
): Promise<number | undefined> {
  if (!Number.isSafeInteger(row) || row < 1) return undefined;
  const target = format === 'ndjson' ? row : row + (header ? 1 : 0); // records to skip to, 1-based
  let line = 1;
  let record = 1; // record that starts at the current position
  let atRecordStart = true;
  let blank = true; // NDJSON: the current line has only whitespace so far
  let quoted = false;
  let escaped = false;
  let afterCr = false; // the previous byte was CR: an LF now is the second half of CRLF
  const input = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      for (let i = 0; i < chunk.length; i++) {
        const c = chunk[i];
        if (format === 'ndjson') {
          if (c === LF) {
            line++;
            blank = true;
            continue;
          }
          if (blank && c !== 0x20 && c !== 0x09 && c !== 0x0d) {
            blank = false;
            if (record === target) return line;
            record++;
          }
          continue;
        }
        const lineEnd = c === CR || (c === LF && !afterCr);
        afterCr = c === CR;
        if (atRecordStart && !(c === LF && !lineEnd)) {
          if (record === target) return line;
          atRecordStart = false;
        }
        if (format === 'csv') {
          if (c === QUOTE) quoted = !quoted;
          else if (lineEnd) {
            line++;
            if (!quoted) {
              record++;
              atRecordStart = true;
            }
          }
        } else if (escaped) {
          escaped = false;
          if (lineEnd) line++;
        } else if (c === BACKSLASH) escaped = true;
        else if (lineEnd) {
          line++;
          record++;
          atRecordStart = true;
        }
      }
    }
  } finally {
    input.destroy();
  }
  return undefined;
}

// CSV (RFC 4180) -> COPY rows. csv-parse does the quoting; it runs on raw bytes (encoding: null) so that
// every field is checked as UTF-8 here, with its row and column, instead of being silently decoded with
// U+FFFD replacement characters. An empty unquoted field is NULL, a quoted "" is the empty string.
// Header line unless ?columns= was given. A UTF-8 BOM is removed before parsing (by createCopyEncoder).
// Trailing empty lines are ignored for tables of more than one column (one empty field is a NULL row for a
// one-column table, as in PostgreSQL's CSV COPY).
import { CsvError, Parser } from 'csv-parse';
import { type ColumnInfo, resolveColumns } from './columns';
import { BadRequestError, FieldError, LimitError, RowError } from './errors';
import { EncodedOutput, type FormatReader, type ReaderContext } from './reader-context';
import { firstInvalidUtf8, isValidUtf8 } from './utf8';

type Field = Uint8Array | null;
type Record = Field[];

interface CsvApi {
  parse(
    buf: Buffer | undefined,
    end: boolean,
    push: (record: Record) => void,
    close: () => void,
  ): Error | undefined;
  info: { lines: number };
}

/** Feed at most this much per parser call, so the "no record for too long" guard is checked often. */
const SLICE = 64 * 1024;

export class CsvReader implements FormatReader {
  rows = 0;
  private readonly api: CsvApi;
  private readonly out: EncodedOutput;
  private cols?: ColumnInfo[];
  private failure?: unknown;
  private headerDone: boolean;
  /** Empty records held back: an error if data follows, ignored at the end. */
  private heldEmpty = 0;
  private sawRecord = false;
  private bytesSinceRecord = 0;
  private readonly maxRecordBytes: number;
  private readonly push = (record: Record): void => this.onRecord(record);
  private readonly close = (): void => undefined;

  constructor(private readonly ctx: ReaderContext) {
    // The streaming Parser's own engine, driven synchronously: records arrive in order, before write()
    // returns, so errors are attributed to the right row without stream-event timing.
    const parser = new Parser({
      encoding: null,
      relax_column_count: true,
      cast: (value: unknown, context: { quoting: boolean }) =>
        !context.quoting && (value as Uint8Array).length === 0 ? null : value,
    } as ConstructorParameters<typeof Parser>[0]);
    const api = (parser as unknown as { api?: CsvApi }).api;
    if (!api || typeof api.parse !== 'function')
      throw new Error('csv-parse: unsupported version (no Parser.api)');
    this.api = api;
    this.out = new EncodedOutput(ctx);
    this.headerDone = ctx.requested !== undefined;
    if (ctx.requested) this.setColumns(ctx.requested);
    const width = ctx.requested?.length ?? ctx.sel.writable.length;
    // Memory guard: a record's bytes are at most 2x its fields' (quote doubling) plus delimiters.
    this.maxRecordBytes = Math.max(1, width) * (2 * ctx.maxFieldBytes + 3) + SLICE;
  }

  write(chunk: Buffer): void {
    for (let s = 0; s < chunk.length; s += SLICE) {
      const piece = chunk.length <= SLICE ? chunk : chunk.subarray(s, s + SLICE);
      this.sawRecord = false;
      this.run(this.api.parse(piece, false, this.push, this.close));
      this.bytesSinceRecord = this.sawRecord ? 0 : this.bytesSinceRecord + piece.length;
      if (this.bytesSinceRecord > this.maxRecordBytes) {
        const row = this.rows + this.heldEmpty + 1;
        throw new LimitError(
          this.ctx.maxFieldBytes,
          `row ${row}: no end of record after ${this.bytesSinceRecord} bytes (a field over the limit of ${this.ctx.maxFieldBytes} bytes, or an unclosed quote)`,
          row,
        );
      }
    }
  }

  end(): void {
    this.run(this.api.parse(undefined, true, this.push, this.close));
    if (!this.headerDone)
      throw new BadRequestError('empty body: expected a CSV header line (or pass ?columns=)');
    this.out.finish();
  }

  private run(err: Error | undefined): void {
    if (this.failure !== undefined) throw this.failure;
    if (err === undefined) return;
    const line = this.api.info.lines;
    if (!this.headerDone) throw new BadRequestError(`CSV header (line ${line}): ${csvMessage(err)}`);
    const row = this.rows + this.heldEmpty + 1;
    throw new RowError(row, undefined, `row ${row} (line ${line}): ${csvMessage(err)}`);
  }

  private setColumns(cols: ColumnInfo[]): void {
    this.cols = cols;
    this.out.start(cols);
  }

  private onRecord(record: Record): void {
    this.sawRecord = true;
    if (this.failure !== undefined) return;
    try {
      if (!this.headerDone) this.header(record);
      else this.data(record);
    } catch (err) {
      // csv-parse would swallow a throw from its push callback; rethrown by run().
      this.failure = err;
    }
  }

  private header(record: Record): void {
    const names = record.map((f, i) => {
      if (f === null || f.length === 0)
        throw new BadRequestError(`CSV header: column ${i + 1} has an empty name`);
      if (!isValidUtf8(f, 0, f.length))
        throw new BadRequestError(`CSV header: column ${i + 1} is not valid UTF-8`);
      return Buffer.from(f.buffer, f.byteOffset, f.length).toString('utf8');
    });
    this.headerDone = true;
    this.setColumns(resolveColumns(this.ctx.sel, names, 'CSV header'));
  }

  private data(record: Record): void {
    const cols = this.cols!;
    const n = cols.length;
    if (n > 1 && record.length === 1 && record[0] === null) {
      this.heldEmpty++;
      return;
    }
    if (this.heldEmpty > 0) {
      const row = this.rows + 1;
      throw new RowError(row, undefined, `row ${row}: empty line (1 field, expected ${n})`);
    }
    const row = this.rows + 1;
    if (record.length !== n) {
      throw new RowError(
        row,
        undefined,
        `row ${row} (line ${this.api.info.lines}): ${record.length} field${record.length === 1 ? '' : 's'}, expected ${n} (${cols.map((c) => c.name).join(', ')})`,
      );
    }
    const r = this.out.rows;
    const max = this.ctx.maxFieldBytes;
    r.begin();
    for (let k = 0; k < n; k++) {
      const f = record[k];
      if (f === null) {
        r.nul(k);
        continue;
      }
      const name = cols[k].name;
      if (f.length > max) {
        throw new LimitError(
          max,
          `row ${row}, column ${JSON.stringify(name)}: value is ${f.length} bytes, over the limit of ${max}`,
          row,
          name,
        );
      }
      if (!isValidUtf8(f, 0, f.length)) {
        const at = firstInvalidUtf8(f, 0, f.length);
        throw new RowError(
          row,
          name,
          `row ${row}, column ${JSON.stringify(name)}: invalid UTF-8 at byte ${at + 1} of the value`,
        );
      }
      if (f.indexOf(0) !== -1) {
        throw new RowError(
          row,
          name,
          `row ${row}, column ${JSON.stringify(name)}: NUL byte, which PostgreSQL text cannot hold`,
        );
      }
      try {
        r.field(k, f, 0, f.length);
      } catch (err) {
        if (err instanceof FieldError)
          throw new RowError(row, name, `row ${row}, column ${JSON.stringify(name)}: ${err.message}`);
        throw err;
      }
    }
    r.end();
    this.rows = row;
    this.out.rowDone();
  }
}

function csvMessage(err: Error): string {
  // csv-parse's messages name its own (1-based, header-including) line; ours add row and line.
  return err instanceof CsvError ? `${err.code}: ${err.message}` : err.message;
}

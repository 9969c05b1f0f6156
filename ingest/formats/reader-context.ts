// What every format reader gets from createCopyEncoder, and the output side shared by the readers that
// re-encode rows (NDJSON, CSV).
import type { ColumnInfo, ColumnSelection } from './columns';
import { CopyWriter } from './copy-writer';
import { fieldCodecs, type ValueRules } from './field-codecs';
import { PGCOPY_HEADER } from './pgcopy-encoder';
import { RowWriter } from './row-writer';

export interface ReaderContext {
  readonly sel: ColumnSelection;
  /** The resolved ?columns= list, when the client gave one. */
  readonly requested?: ColumnInfo[];
  readonly maxFieldBytes: number;
  readonly chunkBytes: number;
  /** Called once, when the target columns are known; returns the COPY format to produce. */
  columnsKnown(columns: ColumnInfo[]): 'binary' | 'text';
  /** Output bytes, in order. */
  emit(chunk: Buffer): void;
}

export interface FormatReader {
  /** Consumes one input chunk; throws RowError / LimitError / BadRequestError. */
  write(chunk: Buffer): void;
  /** End of input: flushes, checks the stream did not stop mid-row. */
  end(): void;
  /** Data rows fully read so far. */
  readonly rows: number;
}

/** Output of the re-encoding readers: header, rows in chunks of >= chunkBytes, trailer. */
export class EncodedOutput {
  readonly w: CopyWriter;
  rows!: RowWriter;
  private binary = false;

  constructor(
    private readonly ctx: ReaderContext,
    /** Whose input rules the values follow: the worker's JSON-friendly ones, or PostgreSQL's (CSV). */
    private readonly rules: ValueRules = 'json',
  ) {
    this.w = new CopyWriter(ctx.chunkBytes);
  }

  start(columns: ColumnInfo[]): void {
    const format = this.ctx.columnsKnown(columns);
    this.binary = format === 'binary';
    this.rows = new RowWriter(this.w, fieldCodecs(columns, format, this.rules), format);
    if (this.binary) {
      this.w.ensure(PGCOPY_HEADER.length);
      this.w.copyFrom(PGCOPY_HEADER, 0, PGCOPY_HEADER.length);
    }
  }

  rowDone(): void {
    if (this.w.full) this.ctx.emit(this.w.take());
  }

  finish(): void {
    if (this.binary) {
      this.w.ensure(2);
      this.w.int16(-1);
    }
    if (this.w.pos > 0) this.ctx.emit(this.w.take());
  }
}

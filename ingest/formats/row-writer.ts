// Frames rows for the chosen COPY format around the per-column field writers.
import type { CopyWriter } from './copy-writer';
import { type FieldCodec, NEWLINE, TAB, writeTextNull } from './field-codecs';

export class RowWriter {
  private readonly n: number;
  private readonly binary: boolean;

  constructor(
    readonly w: CopyWriter,
    readonly codecs: readonly FieldCodec[],
    readonly copyFormat: 'binary' | 'text',
  ) {
    this.n = codecs.length;
    this.binary = copyFormat === 'binary';
  }

  begin(): void {
    if (this.binary) {
      this.w.ensure(2);
      this.w.int16(this.n);
    }
  }

  /** Text format needs a tab before every field but the first. */
  sep(i: number): void {
    if (!this.binary && i > 0) {
      this.w.ensure(1);
      this.w.byte(TAB);
    }
  }

  field(i: number, src: Uint8Array, s: number, e: number): void {
    this.sep(i);
    this.codecs[i].write(this.w, src, s, e);
  }

  nul(i: number): void {
    this.sep(i);
    if (this.binary) this.w.nullField();
    else writeTextNull(this.w);
  }

  end(): void {
    if (!this.binary) {
      this.w.ensure(1);
      this.w.byte(NEWLINE);
    }
  }
}

// Output for the passthrough formats (TSV, pgcopy): input bytes go out as they came, in the same Buffers,
// except runs of small pieces, which are copied together so COPY is not fed tiny writes.
import { CopyWriter } from './copy-writer';

export class PassthroughOutput {
  private readonly small: CopyWriter;
  /** Pieces at least this big are pushed as they are. */
  private readonly direct: number;

  constructor(
    private readonly emit: (chunk: Buffer) => void,
    chunkBytes: number,
  ) {
    this.small = new CopyWriter(chunkBytes);
    this.direct = Math.max(1, Math.min(chunkBytes, 16 * 1024));
  }

  add(buf: Buffer, s: number, e: number): void {
    const n = e - s;
    if (n <= 0) return;
    if (n >= this.direct) {
      if (this.small.pos > 0) this.emit(this.small.take());
      this.emit(s === 0 && e === buf.length ? buf : buf.subarray(s, e));
      return;
    }
    this.small.ensure(n);
    this.small.copyFrom(buf, s, e);
    if (this.small.full) this.emit(this.small.take());
  }

  flush(): void {
    if (this.small.pos > 0) this.emit(this.small.take());
  }
}

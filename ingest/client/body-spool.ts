// A temp file holding the encoded body of an upload whose rows cannot be produced twice (a generator, a
// stream). The first attempt appends each chunk as it goes out; a retry reads the file back and then goes
// on with the rows not yet encoded, so every attempt sends the same bytes (the server compares SHA-256 per
// Idempotency-Key) and memory stays at one chunk.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** A chunk of the encoded body and the number of rows encoded up to its end. */
export interface BodyChunk {
  data: Buffer;
  rows: number;
  /** For a file: bytes of it read so far (for an ETA). */
  inputBytes?: number;
}

export class BodySpool {
  private size = 0;
  /** End offset and cumulative rows of each chunk: a replay reports the same progress as the first send. */
  private readonly ends: number[] = [];
  private readonly rowsAt: number[] = [];
  private closed = false;

  private constructor(
    private readonly dir: string,
    private readonly file: fs.FileHandle,
  ) {}

  static async create(parent = os.tmpdir()): Promise<BodySpool> {
    const dir = await fs.mkdtemp(path.join(parent, 'powerhouse-upload-'));
    try {
      const file = await fs.open(path.join(dir, 'body.pgcopy'), 'w+', 0o600);
      return new BodySpool(dir, file);
    } catch (err) {
      await fs.rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  get bytes(): number {
    return this.size;
  }

  async append(chunk: BodyChunk): Promise<void> {
    let off = 0;
    while (off < chunk.data.length) {
      const { bytesWritten } = await this.file.write(
        chunk.data,
        off,
        chunk.data.length - off,
        this.size + off,
      );
      off += bytesWritten;
    }
    this.size += chunk.data.length;
    this.ends.push(this.size);
    this.rowsAt.push(chunk.rows);
  }

  /** What was appended so far, in the same chunks. */
  async *replay(): AsyncGenerator<BodyChunk> {
    let start = 0;
    const count = this.ends.length;
    for (let i = 0; i < count; i++) {
      const end = this.ends[i];
      const data = Buffer.allocUnsafe(end - start);
      let off = 0;
      while (off < data.length) {
        const { bytesRead } = await this.file.read(data, off, data.length - off, start + off);
        if (bytesRead === 0) throw new Error(`upload spool file ended early at byte ${start + off}`);
        off += bytesRead;
      }
      yield { data, rows: this.rowsAt[i] };
      start = end;
    }
  }

  /** Closes and deletes the file. */
  async dispose(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.file.close().catch(() => undefined);
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}

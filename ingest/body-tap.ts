// First stage after the socket: counts and hashes the raw request body (SHA-256 for idempotency), enforces
// the body limit and reports progress, passing every chunk on unchanged.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { httpErrors } from './errors';

export class BodyTap extends Transform {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;

  constructor(
    private readonly maxBodyBytes: number,
    private readonly onChunk: (bytes: number) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBodyBytes) {
      cb(httpErrors.tooLarge(this.maxBodyBytes, `request body is over ${this.maxBodyBytes} bytes`));
      return;
    }
    this.hash.update(chunk);
    this.onChunk(this.bytes);
    cb(null, chunk);
  }

  /** SHA-256 of everything that passed; call once, after the body ended. */
  digest(): Buffer {
    return this.hash.digest();
  }
}

// Where each attempt's body comes from. Every attempt of one upload must send identical bytes: the server
// replays a committed Idempotency-Key only for the same SHA-256, and a retry after a lost response is exactly
// that case.
//   - reiterate: the rows can be read again (an array, a file): each attempt encodes them afresh.
//   - spool:     the rows can be read once (generator, stream): the first attempt copies the encoded chunks
//                to a temp file (BodySpool) as they are sent; a retry replays the file, then continues.
//   - once:      spooling turned off: no retry once the first attempt has consumed a row.
import { BodySpool, type BodyChunk } from './body-spool';

export interface BodySource {
  /** The chunks of one attempt. */
  open(): AsyncIterable<BodyChunk>;
  /** Whether a failed attempt that already started sending can be followed by another. */
  canRetry(): boolean;
  /** Releases the rows' iterator and any temp file. */
  dispose(): Promise<void>;
}

/**
 * Closes the rows' iterator (a stream is destroyed) without waiting: after a cancel, the source may be
 * stuck in a read that never ends, and dispose must not hang on it.
 */
function releaseIterator(it: AsyncIterator<unknown>): void {
  it.return?.().catch(() => undefined);
}

export function reiterableSource(open: () => AsyncIterable<BodyChunk>): BodySource {
  return { open, canRetry: () => true, dispose: async () => undefined };
}

export class SpooledSource implements BodySource {
  private finished = false;

  constructor(
    private readonly chunks: AsyncIterator<BodyChunk>,
    private readonly spool: BodySpool,
  ) {}

  async *open(): AsyncGenerator<BodyChunk> {
    yield* this.spool.replay();
    while (!this.finished) {
      const r = await this.chunks.next();
      if (r.done) {
        this.finished = true;
        return;
      }
      // On file before it is sent: an attempt cut off right after this yield still finds it on replay.
      await this.spool.append(r.value);
      yield r.value;
    }
  }

  canRetry(): boolean {
    return true;
  }

  async dispose(): Promise<void> {
    if (!this.finished) releaseIterator(this.chunks);
    await this.spool.dispose();
  }
}

export class OneShotSource implements BodySource {
  private started = false;
  private finished = false;

  constructor(private readonly chunks: AsyncIterator<BodyChunk>) {}

  async *open(): AsyncGenerator<BodyChunk> {
    if (this.started) throw new Error('one-shot upload body opened twice');
    this.started = true;
    for (;;) {
      const r = await this.chunks.next();
      if (r.done) {
        this.finished = true;
        return;
      }
      yield r.value;
    }
  }

  canRetry(): boolean {
    return !this.started;
  }

  async dispose(): Promise<void> {
    if (!this.finished) releaseIterator(this.chunks);
  }
}

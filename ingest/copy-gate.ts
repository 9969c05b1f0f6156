// COPY turns: how many COPY backends this worker drives at once. 40 COPYs into one table spend most of their
// time on each other's page and extension locks (LWLock:BufferContent, Lock:extend), so on 2 cores 2 COPYs at a
// time load the same 40 files 1.6× faster than 40 at once (bench/results/copy-turns-latest.md). Uploads above the
// limit wait here, in arrival order, before their transaction begins, holding no database connection; their
// body stays unread, so TCP holds the client back. The extra parts of a split upload (copy-parts/parts.ts) take
// a turn only when one is free and no upload waits: they use idle cores and never delay another upload.

/** An upload waited longer than the bound for its turn. */
export class CopyTurnTimeout extends Error {
  constructor(
    readonly waitedMs: number,
    readonly limit: number,
  ) {
    super(`no COPY turn within ${waitedMs} ms (${limit} COPYs at a time)`);
  }
}

interface Waiter {
  resolve: () => void;
}

export class CopyGate {
  private busy = 0;
  private parts = 0;
  private readonly queue: Waiter[] = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`CopyGate limit must be ≥ 1, got ${limit}`);
  }

  /** COPY backends driven now (uploads and extra parts). */
  get running(): number {
    return this.busy;
  }

  /** Uploads waiting for a turn. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Extra parts among the running. */
  get extraParts(): number {
    return this.parts;
  }

  /**
   * Waits for a turn (first come, first served) and resolves with its release (safe to call twice). Rejects
   * with the signal's reason when it aborts, or CopyTurnTimeout after `maxWaitMs`; either way it leaves the queue.
   */
  acquire(signal: AbortSignal, maxWaitMs: number): Promise<() => void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.busy < this.limit && this.queue.length === 0) {
      this.busy++;
      return Promise.resolve(this.releaser());
    }
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const leave = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
      };
      // release() hands its turn over: the count stays, the waiter leaves the queue running.
      const waiter: Waiter = {
        resolve: () => {
          leave();
          resolve(this.releaser());
        },
      };
      const onAbort = () => {
        leave();
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        leave();
        reject(new CopyTurnTimeout(Math.round(performance.now() - started), this.limit));
      }, maxWaitMs);
      signal.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  /** A turn for an extra part, only if one is free and nobody waits; give it back with givePart(). */
  tryTakePart(): boolean {
    if (this.busy >= this.limit || this.queue.length > 0) return false;
    this.busy++;
    this.parts++;
    return true;
  }

  givePart(): void {
    this.parts--;
    this.release();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release();
    };
  }

  private release(): void {
    const next = this.queue[0];
    if (next) next.resolve();
    else this.busy--;
  }
}

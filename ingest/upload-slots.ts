// Global and per-token limits on concurrent uploads. Acquisition never waits: above a limit the caller
// answers 503 + Retry-After at once, so a client is never left hanging on a full worker.

export type SlotRefusal = 'global' | 'token';

export class UploadSlots {
  private activeCount = 0;
  private readonly perToken = new Map<string, number>();

  constructor(
    private readonly maxGlobal: number,
    private readonly maxPerToken: number,
  ) {}

  get active(): number {
    return this.activeCount;
  }

  /** A release function (safe to call more than once), or which limit refused the upload. */
  tryAcquire(tokenId: string): { release: () => void } | { refused: SlotRefusal } {
    if (this.activeCount >= this.maxGlobal) return { refused: 'global' };
    const mine = this.perToken.get(tokenId) ?? 0;
    if (mine >= this.maxPerToken) return { refused: 'token' };
    this.activeCount++;
    this.perToken.set(tokenId, mine + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.activeCount--;
        const left = (this.perToken.get(tokenId) ?? 1) - 1;
        if (left > 0) this.perToken.set(tokenId, left);
        else this.perToken.delete(tokenId);
      },
    };
  }
}

// A pool connection held by one upload (or one part of it): see HeldConnection.
import type { PoolClient } from 'pg';

/**
 * A pool connection held by one upload: returned exactly once (pg-copy-streams may report an error twice),
 * destroyed instead when its protocol state is unknown (a reply we gave up on is still due, or it failed).
 */
export class HeldConnection {
  private status: 'usable' | 'unusable' | 'released' = 'usable';

  constructor(
    readonly client: PoolClient,
    private readonly onError: (err: Error) => void,
  ) {
    client.on('error', this.onClientError);
  }

  private readonly onClientError = (err: Error) => {
    this.markUnusable();
    this.onError(err);
  };

  get held(): boolean {
    return this.status !== 'released';
  }

  get usable(): boolean {
    return this.status === 'usable';
  }

  markUnusable(): void {
    if (this.status === 'usable') this.status = 'unusable';
  }

  release(): void {
    if (this.status === 'released') return;
    const destroy = this.status === 'unusable';
    this.status = 'released';
    this.client.removeListener('error', this.onClientError);
    if (destroy) {
      this.client.on('error', () => undefined); // it is being torn down; late socket errors are expected
      this.client.release(new Error('connection state unknown after a failed upload'));
    } else {
      this.client.release();
    }
  }
}

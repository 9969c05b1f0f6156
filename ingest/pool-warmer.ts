// Keeps the upload pool's client connections open, so an upload never waits for a login.
//
// A new connection through PgBouncer is a TCP connect plus a SCRAM exchange: four round trips, each of which
// waits its turn on the worker's event loop. With 30 uploads streaming on 2 cores that loop lagged up to
// 0.6 s, and the uploads of a burst that needed new connections started 4–8 s late (issue 6). Client
// connections to PgBouncer cost PostgreSQL nothing (without PgBouncer they are backends, which the tier's
// max_connections counts either way), so the worker opens them at start and refills the pool when a
// connection is dropped (PgBouncer restart, network).
import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';

const REFILL_DELAY_MS = 1_000;
const MAX_BACKOFF_MS = 10_000;

export class PoolWarmer {
  private timer?: NodeJS.Timeout;
  private filling?: Promise<void>;
  private failures = 0;
  private stopped = false;

  constructor(
    private readonly pool: Pool,
    /** Connections to keep open; at most the pool's max. */
    private readonly size: number,
    private readonly log: Logger,
  ) {
    pool.on('remove', this.onRemove);
  }

  /** Opens the missing connections; resolves when done or failed (a failure schedules a retry). */
  fill(): Promise<void> {
    this.filling ??= this.openMissing().finally(() => (this.filling = undefined));
    return this.filling;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.pool.removeListener('remove', this.onRemove);
  }

  private readonly onRemove = (): void => this.schedule(REFILL_DELAY_MS);

  private schedule(ms: number): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.fill();
    }, ms);
    this.timer.unref();
  }

  private async openMissing(): Promise<void> {
    const { pool } = this;
    const missing = this.size - pool.totalCount;
    if (this.stopped || missing <= 0) return;
    // pool.connect() hands out idle clients first: asking for idle + missing at once (all in this tick, so
    // the pool's count stays below max and nobody queues) opens exactly the missing ones.
    const asked = pool.idleCount + missing;
    const results = await Promise.allSettled(Array.from({ length: asked }, () => pool.connect()));
    const clients = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    for (const c of clients) (c as PoolClient).release();
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (!failed) {
      if (this.failures > 0) this.log.info({ open: pool.totalCount }, 'upload pool connections open again');
      this.failures = 0;
      return;
    }
    // Retried with backoff; logged once per streak of failures (PgBouncer down is already loud elsewhere).
    if (this.failures++ === 0)
      this.log.warn(
        { err: failed.reason as Error, open: pool.totalCount, want: this.size },
        'could not open upload pool connections; retrying',
      );
    this.schedule(Math.min(MAX_BACKOFF_MS, REFILL_DELAY_MS * 2 ** this.failures));
  }
}

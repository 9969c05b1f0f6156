// This worker's throughput over the last 15 minutes, kept in memory whether or not anyone looks: every
// interval the rows and bytes its uploads have read (finished and live, from the tracker), the uploads in
// flight, and the queue-wait histogram's bucket counts (for a p95 over the window). A ring of
// window / interval samples; nothing is read from the database.
import type { Histogram } from 'prom-client';
import type { UploadTracker } from '../upload-tracker';
import type { ThroughputSample } from './types';

export const HISTORY_INTERVAL_MS = 5_000;
export const HISTORY_WINDOW_MS = 15 * 60_000;

interface Reading {
  readonly t: number;
  readonly rows: number;
  readonly bytes: number;
  /** Cumulative queue-wait bucket counts, in the order of `bounds`. */
  readonly waits: readonly number[];
}

export class ThroughputHistory {
  private readonly samples: ThroughputSample[] = [];
  /** The reading each sample ended with, and the first one (at start), for the window's histogram delta. */
  private readonly readings: Reading[] = [];
  private bounds: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly tracker: UploadTracker,
    private readonly queueWait: Histogram,
    readonly intervalMs = HISTORY_INTERVAL_MS,
    readonly windowMs = HISTORY_WINDOW_MS,
  ) {}

  start(): void {
    if (this.timer) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Oldest first. */
  get series(): readonly ThroughputSample[] {
    return this.samples;
  }

  /**
   * p95 of the queue wait over the window, interpolated within its histogram bucket as Prometheus'
   * histogram_quantile does; null when no upload began in the window.
   */
  queueWaitP95(): number | null {
    const first = this.readings[0];
    const last = this.readings[this.readings.length - 1];
    if (!first || !last) return null;
    const counts = last.waits.map((c, i) => c - (first.waits[i] ?? 0));
    return quantile(0.95, this.bounds, counts);
  }

  /** Takes one reading now (the timer's work; tests call it to skip the wait). */
  sample(): Promise<void> {
    this.running ??= this.read().finally(() => (this.running = undefined));
    return this.running;
  }

  private async read(): Promise<void> {
    const t = Date.now();
    const { rows, bytes } = this.tracker.received();
    const inFlight = this.tracker.liveUploads.length;
    const { values } = await this.queueWait.get();
    const buckets = values
      .filter((v) => v.metricName?.endsWith('_bucket'))
      .map((v) => ({ le: Number(v.labels.le), count: v.value }))
      .sort((a, b) => a.le - b.le);
    this.bounds = buckets.map((b) => b.le);
    const reading: Reading = { t, rows, bytes, waits: buckets.map((b) => b.count) };
    const prev = this.readings[this.readings.length - 1];
    this.readings.push(reading);
    if (prev) {
      const dt = (t - prev.t) / 1000;
      if (dt > 0)
        this.samples.push({
          t,
          rowsPerSecond: Math.max(0, rows - prev.rows) / dt,
          bytesPerSecond: Math.max(0, bytes - prev.bytes) / dt,
          inFlight,
        });
    }
    const max = Math.ceil(this.windowMs / this.intervalMs);
    while (this.samples.length > max) this.samples.shift();
    // One reading more than samples: the window's start.
    while (this.readings.length > max + 1) this.readings.shift();
  }
}

/** The q-quantile of a histogram given as upper bounds (ascending, +Inf last) and cumulative counts. */
export function quantile(q: number, bounds: readonly number[], cumulative: readonly number[]): number | null {
  const total = cumulative[cumulative.length - 1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (cumulative[i] < rank) continue;
    const upper = bounds[i];
    const lower = i === 0 ? 0 : bounds[i - 1];
    // Above the highest finite bound nothing is known but that bound (histogram_quantile's rule).
    if (!Number.isFinite(upper)) return lower;
    const below = i === 0 ? 0 : cumulative[i - 1];
    const inBucket = cumulative[i] - below;
    return inBucket > 0 ? lower + ((upper - lower) * (rank - below)) / inBucket : upper;
  }
  return null;
}

// Rate and ETA for a progress display, pure (the caller passes its clock). The rate is an exponentially
// weighted moving average over time, not over reports: each measured interval weighs by how long it lasted, so
// a burst of quick reports (the first buffer filling, a chunk boundary) moves it little. The ETA stays blank
// until the rate has had time and samples to settle, and whenever the total is unknown.

export interface EstimateOptions {
  /** Time constant of the smoothing: an interval this long ago weighs 1/e of the newest one. */
  readonly timeConstantMs: number;
  /** Reports closer together than this are merged: every rate is measured over at least this long. */
  readonly minIntervalMs: number;
  /** No ETA before this long after the start of the measurement … */
  readonly etaAfterMs: number;
  /** … nor before this many measured intervals. */
  readonly etaAfterSamples: number;
}

export const DEFAULT_ESTIMATE_OPTIONS: EstimateOptions = {
  timeConstantMs: 5000,
  minIntervalMs: 200,
  etaAfterMs: 3000,
  etaAfterSamples: 4,
};

export interface Estimate {
  /** Where the measurement started (ms on the caller's clock, and the value then). */
  readonly startMs: number;
  /** Start of the interval being measured: reports are merged into it until it is minIntervalMs long. */
  readonly baseMs: number;
  readonly baseValue: number;
  /** The latest report. */
  readonly lastMs: number;
  readonly lastValue: number;
  /** Smoothed units per second; undefined until a first interval was measured. */
  readonly rate: number | undefined;
  /** Intervals measured so far. */
  readonly samples: number;
  /** Sum of the decayed weights of the intervals so far: rate = Σ wᵢ·rᵢ / weight. */
  readonly weight: number;
}

/** A measurement that starts at `atMs` with `value` done (an upload attempt: 0 ms, 0 rows). */
export function startEstimate(atMs = 0, value = 0): Estimate {
  return {
    startMs: atMs,
    baseMs: atMs,
    baseValue: value,
    lastMs: atMs,
    lastValue: value,
    rate: undefined,
    samples: 0,
    weight: 0,
  };
}

/**
 * The estimate after a report of `value` done at `atMs`. Time or value going backwards (a retry that starts
 * again from 0) starts a new measurement from that report.
 */
export function observe(
  e: Estimate,
  atMs: number,
  value: number,
  o: EstimateOptions = DEFAULT_ESTIMATE_OPTIONS,
): Estimate {
  if (!Number.isFinite(atMs) || !Number.isFinite(value)) return e;
  if (atMs < e.lastMs || value < e.lastValue) return startEstimate(atMs, value);
  const dt = atMs - e.baseMs;
  if (dt < o.minIntervalMs) return { ...e, lastMs: atMs, lastValue: value };
  const measured = ((value - e.baseValue) * 1000) / dt;
  // The new interval weighs 1 - e^(-dt/τ) and everything before decays by e^(-dt/τ): equal intervals give a
  // classic EWMA, a long one counts more. Dividing by the total weight (rather than starting from the first
  // interval's rate) keeps a slow first 250 ms (connecting) from holding the rate down for many seconds.
  const decay = Math.exp(-dt / o.timeConstantMs);
  const weight = e.weight * decay + (1 - decay);
  const rate = ((e.rate ?? 0) * e.weight * decay + measured * (1 - decay)) / weight;
  return {
    startMs: e.startMs,
    baseMs: atMs,
    baseValue: value,
    lastMs: atMs,
    lastValue: value,
    rate,
    samples: e.samples + 1,
    weight,
  };
}

/**
 * Seconds until `total` at the smoothed rate, or undefined while that would be a guess: no total, too early
 * (etaAfterMs, etaAfterSamples), no progress (or too little to finish in finite time), or everything counted
 * already (the rest is the server's).
 */
export function etaSeconds(
  e: Estimate,
  total: number | undefined,
  o: EstimateOptions = DEFAULT_ESTIMATE_OPTIONS,
): number | undefined {
  if (total === undefined || !(total > 0)) return undefined;
  if (e.rate === undefined || !(e.rate > 0)) return undefined;
  if (e.samples < o.etaAfterSamples || e.lastMs - e.startMs < o.etaAfterMs) return undefined;
  const remaining = total - e.lastValue;
  if (!(remaining > 0)) return undefined;
  // A rate that rounds to nothing (a stalled upload) gives no ETA rather than an infinite one.
  const eta = remaining / e.rate;
  return Number.isFinite(eta) ? eta : undefined;
}

/** "< 1 s", "45 s", "3 min 05 s", "2 h 07 min". */
export function formatDuration(seconds: number): string {
  if (seconds < 0.5) return '< 1 s';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

// The upload progress arithmetic: a rate smoothed over time, an ETA that stays blank until it has settled, and
// counts in the singular and the plural. Pure functions: properties over random report sequences (fast-check).
import fc from 'fast-check';
import { counted } from '../../config-templates/plural';
import {
  DEFAULT_ESTIMATE_OPTIONS as O,
  type Estimate,
  etaSeconds,
  formatDuration,
  observe,
  startEstimate,
} from '../../cli/progress-estimate';
import { progressLine, ProgressTracker } from '../../cli/upload-progress';

/** Reports at least minIntervalMs apart (each one a measured interval), as [dtMs, rows/s during it]. */
const intervals = fc.array(
  fc.tuple(fc.integer({ min: O.minIntervalMs, max: 5000 }), fc.double({ min: 0, max: 2e6, noNaN: true })),
  { minLength: 1, maxLength: 60 },
);

function run(steps: [number, number][], start = startEstimate()): { e: Estimate; rates: number[] } {
  let e = start;
  let t = e.lastMs;
  let v = e.lastValue;
  const rates: number[] = [];
  for (const [dt, r] of steps) {
    t += dt;
    v += (r * dt) / 1000;
    e = observe(e, t, v);
    rates.push(r);
  }
  return { e, rates };
}

describe('the smoothed rate', () => {
  it('stays within the lowest and highest rate measured over any interval', () => {
    fc.assert(
      fc.property(intervals, (steps) => {
        const { e, rates } = run(steps);
        const lo = Math.min(...rates);
        const hi = Math.max(...rates);
        const eps = 1e-9 * Math.max(1, hi);
        expect(e.rate).toBeGreaterThanOrEqual(lo - eps);
        expect(e.rate).toBeLessThanOrEqual(hi + eps);
      }),
    );
  });

  it('is exactly the rate when the rate is constant, however irregular the reports', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 80 }),
        fc.double({ min: 1, max: 1e6, noNaN: true }),
        (dts, rate) => {
          const { e } = run(dts.map((dt) => [dt, rate]));
          if (e.rate !== undefined) expect(e.rate).toBeCloseTo(rate, 6);
        },
      ),
    );
  });

  it('weighs by time, not by report: one 250 ms burst at 448k rows/s moves a steady 146k by ~5%', () => {
    const steady = run(Array.from({ length: 80 }, () => [250, 146_000] as [number, number])).e;
    expect(steady.rate).toBeCloseTo(146_000, 3);
    const burst = run([[250, 448_000]], steady).e;
    expect(burst.rate!).toBeGreaterThan(146_000);
    expect(burst.rate!).toBeLessThan(146_000 + 0.06 * (448_000 - 146_000));
    // A slow first interval (connecting) weighs its 250 ms, not the whole estimate.
    const slowStart = run([
      [250, 4],
      ...Array.from({ length: 8 }, () => [250, 10_000] as [number, number]),
    ]).e;
    expect(slowStart.rate!).toBeGreaterThan(8_500);
    // Five quick reports inside 200 ms are one interval, not five samples.
    let e = steady;
    for (let i = 1; i <= 5; i++) e = observe(e, steady.lastMs + i * 30, steady.lastValue + i * 30_000);
    expect(e.samples).toBe(steady.samples);
    expect(e.rate).toBe(steady.rate);
  });

  it('starts again when a retry counts from 0', () => {
    const { e } = run([
      [500, 1000],
      [500, 1000],
    ]);
    const again = observe(e, 100, 5);
    expect(again).toEqual(startEstimate(100, 5));
  });
});

describe('the ETA', () => {
  it('is blank without a total, before etaAfterMs, and before etaAfterSamples intervals', () => {
    fc.assert(
      fc.property(intervals, fc.option(fc.double({ min: 1, max: 1e9, noNaN: true })), (steps, total) => {
        let e = startEstimate();
        let t = 0;
        let v = 0;
        for (const [dt, r] of steps) {
          t += dt;
          v += (r * dt) / 1000;
          e = observe(e, t, v);
          const eta = etaSeconds(e, total ?? undefined);
          if (total === null || t < O.etaAfterMs || e.samples < O.etaAfterSamples)
            expect(eta).toBeUndefined();
          if (eta !== undefined) {
            expect(eta).toBeGreaterThan(0);
            expect(Number.isFinite(eta)).toBe(true);
          }
        }
      }),
    );
  });

  it('never reads 0 s while the total is not reached, and counts down under a constant rate', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: O.minIntervalMs, max: 2000 }), { minLength: 1, maxLength: 80 }),
        fc.double({ min: 10, max: 1e6, noNaN: true }),
        fc.double({ min: 1, max: 10_000, noNaN: true }),
        (dts, rate, seconds) => {
          const total = rate * seconds;
          let e = startEstimate();
          let t = 0;
          let previous = Infinity;
          for (const dt of dts) {
            t += dt;
            e = observe(e, t, Math.min(total, (rate * t) / 1000));
            const eta = etaSeconds(e, total);
            if (eta === undefined) continue;
            expect(eta).toBeCloseTo((total - e.lastValue) / rate, 6);
            expect(eta).toBeLessThanOrEqual(previous + 1e-9);
            previous = eta;
          }
        },
      ),
    );
  });

  it('appears after etaAfterMs and etaAfterSamples at a steady rate, and is blank once everything is read', () => {
    let e = startEstimate();
    const at = (ms: number) => (e = observe(e, ms, ms * 10)); // 10 000 units/s
    at(1000);
    at(2000);
    at(2900);
    at(2999);
    expect(etaSeconds(e, 100_000)).toBeUndefined(); // 4 samples but under 3 s
    at(3500);
    expect(etaSeconds(e, 100_000)).toBeCloseTo(6.5, 6);
    at(10_000);
    expect(etaSeconds(e, 100_000)).toBeUndefined(); // all of it read: the rest is the server's, no "0 s"
  });

  it('is formatted in s, min and h', () => {
    expect(formatDuration(0.4)).toBe('< 1 s');
    expect(formatDuration(0.6)).toBe('1 s');
    expect(formatDuration(59.4)).toBe('59 s');
    expect(formatDuration(65)).toBe('1 min 05 s');
    expect(formatDuration(3 * 3600 + 7 * 60 + 10)).toBe('3 h 07 min');
  });
});

describe('counts', () => {
  it.each([
    [0, 'row', '0 rows'],
    [1, 'row', '1 row'],
    [2, 'row', '2 rows'],
    [1_000_000, 'row', '1,000,000 rows'],
    [1, 'table', '1 table'],
    [1, 'concurrent uploader', '1 concurrent uploader'],
  ])('%d %s → %s', (n, noun, text) => {
    expect(counted(n, noun)).toBe(text);
  });
});

describe('the progress line (no terminal)', () => {
  const report = (over: Partial<Parameters<ProgressTracker['update']>[0]>) => ({
    rows: 0,
    bytes: 0,
    rate: 0,
    attempt: 1,
    elapsedMs: 0,
    done: false,
    ...over,
  });

  it('says "1 row", has no ETA early, and an ETA once the rate has settled', () => {
    const total = { rows: 100_000 };
    const first = new ProgressTracker(total).update(report({ rows: 1, bytes: 60, elapsedMs: 250 }));
    expect(progressLine(first, total)).toBe('uploading: 1 row of 100,000, 60 B, 4 rows/s');
    const tracker = new ProgressTracker(total);
    let v = first;
    for (let ms = 250; ms <= 4000; ms += 250) {
      v = tracker.update(report({ rows: ms * 10, elapsedMs: ms }));
      if (ms < O.etaAfterMs) expect(progressLine(v, total)).not.toMatch(/ETA/);
    }
    expect(progressLine(v, total)).toMatch(
      /^uploading: 40,000 rows of 100,000, .*, 10,000 rows\/s, ETA 6 s$/,
    );
    // A retry starts again: no ETA, the attempt said.
    const retry = tracker.update(report({ rows: 2, elapsedMs: 250, attempt: 2 }));
    expect(progressLine(retry, total)).toMatch(/^uploading: 2 rows of 100,000, .* rows\/s, attempt 2$/);
  });

  it('measures a file upload against the file, and says so', () => {
    const total = { bytes: 1000 };
    const tracker = new ProgressTracker(total);
    const v = tracker.update(report({ rows: 3, bytes: 90, fileBytes: 250, fileSize: 1000, elapsedMs: 300 }));
    expect(progressLine(v, total)).toBe('uploading: 3 rows (25% of the file), 90 B, 10 rows/s');
  });
});

// Comparing response-time distributions without wall-clock thresholds.
//
// Each round runs every class once, in a fresh random order, so slow drift of the machine (another process
// starting, CPU frequency, GC) hits all classes alike. For each class we take the per-round difference to the
// baseline class and report the median of those paired differences: a median ignores the heavy tail that
// scheduling noise puts on latencies, and pairing cancels what the classes share. A class "differs" when that
// median is more than `tolerance` × the baseline's median. With n rounds the median's standard error is
// about 1.25·σ/√n, so with a few hundred rounds a 10 % tolerance sits several standard errors above
// noise, while a leak that grows with the number of correct characters shows up as a shift of its own size.
import { mulberry32 } from '../../ingest/client/tm-rows';

export type Samples = Record<string, number[]>;

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function shuffle<T>(xs: T[], rnd: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

/** Runs `rounds` rounds of every class (random order per round); returns each class's durations in µs. */
export async function interleavedTrials(
  classes: Record<string, () => Promise<unknown> | unknown>,
  rounds: number,
  seed: number,
): Promise<Samples> {
  const rnd = mulberry32(seed);
  const names = Object.keys(classes);
  const out: Samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const name of shuffle([...names], rnd)) {
      const t0 = process.hrtime.bigint();
      await classes[name]();
      out[name].push(Number(process.hrtime.bigint() - t0) / 1000);
    }
  }
  return out;
}

export interface ClassComparison {
  name: string;
  medianUs: number;
  /** Median over rounds of (this class − baseline). */
  pairedShiftUs: number;
  /** pairedShiftUs / baseline median. */
  relative: number;
}

export function compareToBaseline(samples: Samples, baseline: string): ClassComparison[] {
  const base = samples[baseline];
  const baseMedian = median(base);
  return Object.entries(samples)
    .filter(([name]) => name !== baseline)
    .map(([name, xs]) => {
      const shift = median(xs.map((x, i) => x - base[i]));
      return { name, medianUs: median(xs), pairedShiftUs: shift, relative: shift / baseMedian };
    });
}

/** The classes whose paired median shift exceeds `tolerance` of the baseline median (either direction). */
export function differing(comparisons: ClassComparison[], tolerance: number): ClassComparison[] {
  return comparisons.filter((c) => Math.abs(c.relative) > tolerance);
}

export function summarize(samples: Samples, baseline: string): string {
  const rows = compareToBaseline(samples, baseline).map(
    (c) =>
      `${c.name}: median ${c.medianUs.toFixed(1)} µs, shift vs ${baseline} ${c.pairedShiftUs.toFixed(1)} µs (${(100 * c.relative).toFixed(1)} %)`,
  );
  return [`${baseline}: median ${median(samples[baseline]).toFixed(1)} µs`, ...rows].join('\n');
}

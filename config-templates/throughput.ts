// How long a burst of uploads takes on a tier: a deliberately simple model calibrated by the benchmark's own
// figures (bench/results/schema-latest.json: the endpoint into the shipped schema with the desktop app's binary
// COPY body, N concurrent uploads and one large one, measured on a known number of cores). Its assumptions are
// returned with every estimate, because the one that matters most (rows/s grow with cores) is not measured on
// this project's 2-core machine.
import { z } from 'zod';

export interface Calibration {
  /** Where the figures come from (a file and its date). */
  readonly source: string;
  readonly cores: number;
  /** Concurrent uploads of the measurement, and their aggregate rows/s through the endpoint. */
  readonly users: number;
  readonly concurrentRowsPerSecond: number;
  /** One large upload through the endpoint, rows/s. */
  readonly singleRowsPerSecond: number;
}

/** bench:schema's JSON, only the parts the model reads. */
const benchFile = z.object({
  measuredAt: z.string(),
  machine: z.object({ cores: z.number().int().positive() }),
  users: z.number().int().positive(),
  results: z.object({
    endpoint_v4: z.object({
      own: z.array(z.number().positive()).nonempty(),
      single: z.array(z.number().positive()).nonempty(),
    }),
  }),
});

const median = (v: readonly number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/** A calibration from `npm run bench:schema`'s JSON (its endpoint medians); a bad file says what is missing. */
export function calibrationFromBench(json: unknown, source: string): Calibration {
  const r = benchFile.safeParse(json);
  if (!r.success)
    throw new Error(
      `${source} is not bench:schema's result (${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')})`,
    );
  const d = r.data;
  return {
    source: `${source} (${d.measuredAt})`,
    cores: d.machine.cores,
    users: d.users,
    concurrentRowsPerSecond: Math.round(median(d.results.endpoint_v4.own)),
    singleRowsPerSecond: Math.round(median(d.results.endpoint_v4.single)),
  };
}

/**
 * The committed calibration: bench/results/schema-latest.json of 2026-12-01 (2 cores, 40 × 100,000 rows in
 * the desktop app's binary COPY body, the worker's COPY turns at 2, medians of 3).
 */
export const DEFAULT_CALIBRATION: Calibration = {
  source: 'bench/results/schema-latest.json (2026-12-01T20:17:24Z, 2 cores)',
  cores: 2,
  users: 40,
  concurrentRowsPerSecond: 361_542,
  singleRowsPerSecond: 238_609,
};

export interface LoadEstimate {
  readonly rowsPerSecond: number;
  readonly seconds: number;
  /** What bounds it: the cores (many uploads) or the uploads (fewer uploads than cores). */
  readonly bound: 'cores' | 'uploads';
}

/**
 * Rows/s for `users` concurrent uploads on `cores` cores: each core takes calibration rows/s per core, and one
 * upload cannot go faster than the measured single upload (one COPY is one backend), so fewer uploads than
 * cores leave cores idle.
 */
export function estimateLoad(
  cores: number,
  users: number,
  rows: number,
  cal: Calibration = DEFAULT_CALIBRATION,
): LoadEstimate {
  const byCores = (cal.concurrentRowsPerSecond / cal.cores) * cores;
  const byUploads = users * cal.singleRowsPerSecond;
  const rowsPerSecond = Math.min(byCores, byUploads);
  return { rowsPerSecond, seconds: rows / rowsPerSecond, bound: byCores <= byUploads ? 'cores' : 'uploads' };
}

/** What the estimate takes for granted, for the reader to check against their tier. */
export function loadAssumptions(cal: Calibration): string[] {
  const perCore = Math.round(cal.concurrentRowsPerSecond / cal.cores);
  return [
    `calibrated by ${cal.source}: ${cal.users} concurrent uploads through the endpoint took ${Math.round(cal.concurrentRowsPerSecond).toLocaleString('en-US')} rows/s on ${cal.cores} cores (${perCore.toLocaleString('en-US')} rows/s per core), one large upload ${Math.round(cal.singleRowsPerSecond).toLocaleString('en-US')} rows/s`,
    `rows/s grow in proportion to cores: NOT measured above ${cal.cores} cores; on 2 cores the worker and PostgreSQL share them, so a bigger tier may do better per core, while lock contention (relation extension, WAL insertion) may do worse: run npm run bench:schema on the tier and pass its JSON with --calibration`,
    'one upload is one COPY backend: it cannot use more than one core, so fewer uploads than cores leave cores idle',
    'rows of ~200 B of TM text into the default schema (one key (tm_id, id)); wider rows or more indexes are slower',
    'the disk keeps up (the benchmark wrote WAL and data to the same disk); checkpoints and archiving during the load are included only as far as they happened in the benchmark',
  ];
}

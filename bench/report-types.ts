// The JSON a run writes (bench/results/*.json); the Markdown report and the SVG chart are drawn from it.
import type { MachineInfo } from './machine';
import type { SampleSummary } from './samplers';
import type { Summary } from './stats';

export interface Throughput {
  rows: number;
  ms: number;
  rowsPerSec: number;
  /** Megabytes (10^6) per second of the rows in COPY text form: one yardstick for every method. */
  mbPerSec: number;
}

export interface MethodResult extends Throughput {
  id: string;
  label: string;
  /** rows/s of this method ÷ rows/s of `psql \copy` (text) in the same run. */
  ratioToPsql: number | null;
  note?: string;
}

export interface SingleUploadResult extends Throughput {
  id: string;
  label: string;
  /** Request body size. */
  bodyBytes: number;
  ratioToPsql: number | null;
  sampled: SampleSummary | null;
}

export interface ConcurrentSide {
  /** All rows ÷ the sum over runs of (first start → last finish). */
  aggregateRowsPerSec: number;
  /** The same for each run, in the order they ran. */
  runRowsPerSec: number[];
  /** Mean over runs of first start → last finish. */
  wallMs: number;
  perUploadMs: Summary;
  /** Endpoint only: request start → first body byte taken by the worker. */
  firstAcceptedMs: Summary | null;
  errors: number;
  /** Refused connections and 503s (a subset of errors). */
  refused: number;
  errorSamples: string[];
  sampled: SampleSummary;
}

export interface ConcurrentResult {
  users: number;
  rowsPerUpload: number;
  format: string;
  /** Runs per side (ABBA order); per-upload figures pool all runs. */
  runs: number;
  endpoint: ConcurrentSide;
  psql: ConcurrentSide;
  /** endpoint aggregate ÷ psql aggregate. */
  ratio: number;
}

export interface TargetResult {
  id: string;
  source: string;
  what: string;
  target: string;
  measured: string;
  /** null: not measured in this run. */
  pass: boolean | null;
}

export interface ProfileEntry {
  function: string;
  location: string;
  selfMs: number;
  /** Of the busy time. */
  share: number;
}

export interface ProfileSummary {
  scenario: string;
  /** Wall time the profile covers, and the part of it the worker was not idle. */
  totalMs: number;
  busyMs: number;
  top: ProfileEntry[];
  file: string;
}

export interface BenchReport {
  version: 1;
  startedAt: string;
  finishedAt: string;
  durationSec: number;
  command: string;
  options: Record<string, unknown>;
  machine: MachineInfo;
  tier: { name: string; cores: number; ramMiB: number; users: number };
  settings: Record<string, string | number>;
  /** Generated data: rows and bytes per format of the single-user set. */
  data: { seed: number; rowBytesTsv: number; files: Record<string, { rows: number; bytes: number }> };
  methods: MethodResult[];
  single: { baseline: MethodResult | null; uploads: SingleUploadResult[] };
  concurrent: ConcurrentResult | null;
  scaling: ConcurrentResult[];
  targets: TargetResult[];
  profiles: ProfileSummary[];
  notes: string[];
}

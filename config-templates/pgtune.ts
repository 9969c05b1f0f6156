// PGTune (le0pard/pgtune), transcribed as the reference tune() builds on: a setting whose reason says "(PGTune)"
// takes its value from here, a test holds it to that, and `powerhouse tune --compare-pgtune` prints these beside
// tune()'s values.
//
// Source: src/features/configuration/configurationSlice.js of le0pard/pgtune at commit
// 7caef27c204d304623eda21f23e7d56c1ad78d36 (2026-07-30); its formulas last changed in 830d3bb (2026-06-09).
// Transcribed for the inputs this project has: PostgreSQL 16, Linux, the "oltp" profile (many concurrent short
// transactions: the uploads' COPYs and the desktop app's lookups; "dw" would assume large analytic reads: stats
// target 500, random_page_cost 4 on SSD, uncapped workers per gather), storage nvme / ssd / hdd as the tier says,
// the data size PGTune's form defaults to ("1x - 3x RAM", which scales nothing), CPUs, RAM (entered in MB) and
// max_connections given. tests/config-templates/pgtune.test.ts pins it with outputs of upstream's own code.
import type { DiskKind, Hardware } from './settings';

const KB_PER_MB = 1024;
const KB_PER_GB = 1024 * 1024;

/**
 * PGTune's output for one machine. Memory values are in kB, as PGTune computes them. `null` means PGTune prints
 * no line for the setting, so PostgreSQL's default applies.
 */
export interface PgTuneValues {
  max_connections: number;
  shared_buffers: number;
  effective_cache_size: number;
  maintenance_work_mem: number;
  checkpoint_completion_target: number;
  wal_buffers: number;
  default_statistics_target: number;
  random_page_cost: number;
  effective_io_concurrency: number;
  work_mem: number;
  huge_pages: 'try' | 'off';
  jit: 'off';
  wal_compression: 'lz4';
  autovacuum_max_workers: number | null;
  autovacuum_work_mem: number | null;
  min_wal_size: number;
  max_wal_size: number;
  max_worker_processes: number | null;
  max_parallel_workers_per_gather: number | null;
  max_parallel_workers: number | null;
  max_parallel_maintenance_workers: number | null;
}

/** The settings PGTune gives in kB. */
export const PGTUNE_KB_SETTINGS: readonly (keyof PgTuneValues)[] = [
  'shared_buffers',
  'effective_cache_size',
  'maintenance_work_mem',
  'wal_buffers',
  'work_mem',
  'autovacuum_work_mem',
  'min_wal_size',
  'max_wal_size',
];

/** PostgreSQL's max_worker_processes, which PGTune divides work_mem by when it sets no parallel settings. */
const PG_DEFAULT_MAX_WORKER_PROCESSES = 8;

const EFFECTIVE_IO_CONCURRENCY: Readonly<Record<DiskKind, number>> = { hdd: 2, ssd: 200, nvme: 1000 };

/** 3% of shared_buffers, at most 16 MB and rounded up to 16 MB above 14 MB, at least 32 kB. */
function walBuffersKb(sharedBuffersKb: number): number {
  const kb = Math.min(Math.floor((3 * sharedBuffersKb) / 100), 16 * KB_PER_MB);
  if (kb > 14 * KB_PER_MB && kb < 16 * KB_PER_MB) return 16 * KB_PER_MB;
  return Math.max(32, kb);
}

/** Below 4 CPUs PGTune sets no parallel settings at all. */
function parallelSettings(cores: number) {
  if (cores < 4) {
    return {
      max_worker_processes: null,
      max_parallel_workers_per_gather: null,
      max_parallel_workers: null,
      max_parallel_maintenance_workers: null,
    };
  }
  const half = Math.min(4, Math.ceil(cores / 2)); // oltp: no evidence that more than 4 workers pay off
  return {
    max_worker_processes: cores,
    max_parallel_workers_per_gather: half,
    max_parallel_workers: cores,
    max_parallel_maintenance_workers: half,
  };
}

/** (RAM − shared_buffers) / ((max_connections + max_worker_processes) × 3), at least 4 MB. */
function workMemKb(ramKb: number, sharedBuffersKb: number, connections: number, workers: number): number {
  const kb = Math.floor((ramKb - sharedBuffersKb) / ((connections + workers) * 3));
  return Math.max(4 * KB_PER_MB, kb);
}

export function pgtune(hw: Hardware, maxConnections: number): PgTuneValues {
  const ramKb = hw.ramMiB * KB_PER_MB;
  const sharedBuffers = Math.floor(ramKb / 4);
  const maintenanceWorkMem = Math.min(Math.floor(ramKb / 16), 8 * KB_PER_GB);
  const parallel = parallelSettings(hw.cores);
  const workers = parallel.max_worker_processes ?? PG_DEFAULT_MAX_WORKER_PROCESSES;
  return {
    max_connections: maxConnections,
    shared_buffers: sharedBuffers,
    effective_cache_size: Math.floor((ramKb * 3) / 4),
    maintenance_work_mem: maintenanceWorkMem,
    checkpoint_completion_target: 0.9,
    wal_buffers: walBuffersKb(sharedBuffers),
    default_statistics_target: 100,
    random_page_cost: hw.disk === 'hdd' ? 4 : 1.1,
    effective_io_concurrency: EFFECTIVE_IO_CONCURRENCY[hw.disk],
    work_mem: workMemKb(ramKb, sharedBuffers, maxConnections, workers),
    huge_pages: sharedBuffers >= 2 * KB_PER_GB ? 'try' : 'off',
    jit: 'off',
    wal_compression: 'lz4',
    autovacuum_max_workers: hw.cores >= 32 ? 5 : hw.cores >= 16 ? 4 : null,
    // Several autovacuum workers must not each take an 8 GB maintenance_work_mem.
    autovacuum_work_mem: maintenanceWorkMem >= 2 * KB_PER_GB ? 2 * KB_PER_GB : null,
    min_wal_size: 2 * KB_PER_GB,
    max_wal_size: 8 * KB_PER_GB,
    ...parallel,
  };
}

/** A value as PGTune prints it: kB in the largest unit that loses nothing (4GB, 16MB, 48770kB); '' for no line. */
export function pgtuneText(values: PgTuneValues, name: string): string {
  if (!Object.prototype.hasOwnProperty.call(values, name)) return '';
  const key = name as keyof PgTuneValues;
  const v = values[key];
  if (v === null) return '';
  if (typeof v !== 'number' || !PGTUNE_KB_SETTINGS.includes(key)) return String(v);
  if (v % KB_PER_GB === 0) return `${v / KB_PER_GB}GB`;
  if (v % KB_PER_MB === 0) return `${v / KB_PER_MB}MB`;
  return `${v}kB`;
}

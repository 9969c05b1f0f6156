// PGTune's published formulas (le0pard/pgtune, "oltp" profile, PostgreSQL 16, Linux), as a reference that
// tune() is compared against: in tests (values tune() attributes to PGTune must equal these) and in
// `powerhouse tune --compare-pgtune`. Not used to produce settings.
import type { Hardware } from './settings';

export interface PgTuneValues {
  max_connections: number;
  /** Memory values in MiB (PGTune works in kB; rounded the same way). */
  shared_buffers: number;
  effective_cache_size: number;
  maintenance_work_mem: number;
  /** kB, as PGTune prints it. */
  work_mem_kb: number;
  wal_buffers: number;
  min_wal_size: number;
  max_wal_size: number;
  checkpoint_completion_target: number;
  default_statistics_target: number;
  random_page_cost: number;
  effective_io_concurrency: number;
  huge_pages: 'try' | 'off';
  max_worker_processes: number;
  max_parallel_workers_per_gather: number;
  max_parallel_workers: number;
  max_parallel_maintenance_workers: number;
}

export function pgtune(hw: Hardware, maxConnections: number): PgTuneValues {
  const ramKb = hw.ramMiB * 1024;
  const sharedKb = Math.floor(ramKb / 4);
  const maintenanceKb = Math.min(Math.floor(ramKb / 16), 2 * 1024 * 1024);
  let walBuffersKb = Math.floor((3 * sharedKb) / 100);
  if (walBuffersKb > 16 * 1024) walBuffersKb = 16 * 1024;
  if (walBuffersKb > 14 * 1024 && walBuffersKb < 16 * 1024) walBuffersKb = 16 * 1024;
  if (walBuffersKb < 32) walBuffersKb = 32;
  const workersPerGather = Math.min(4, Math.ceil(hw.cores / 2));
  const workMemKb = Math.max(64, Math.floor((ramKb - sharedKb) / (maxConnections * 3) / workersPerGather));
  const ssd = hw.disk !== 'hdd';
  return {
    max_connections: maxConnections,
    shared_buffers: sharedKb / 1024,
    effective_cache_size: Math.floor((ramKb * 3) / 4) / 1024,
    maintenance_work_mem: maintenanceKb / 1024,
    work_mem_kb: workMemKb,
    wal_buffers: walBuffersKb / 1024,
    min_wal_size: 2048,
    max_wal_size: 8192,
    checkpoint_completion_target: 0.9,
    default_statistics_target: 100,
    random_page_cost: ssd ? 1.1 : 4,
    effective_io_concurrency: ssd ? 200 : 2,
    huge_pages: hw.ramMiB >= 32 * 1024 ? 'try' : 'off',
    max_worker_processes: hw.cores,
    max_parallel_workers_per_gather: workersPerGather,
    max_parallel_workers: hw.cores,
    max_parallel_maintenance_workers: workersPerGather,
  };
}

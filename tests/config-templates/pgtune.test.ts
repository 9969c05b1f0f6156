// PGTune's own outputs at seven hardware points: they pin config-templates/pgtune.ts to upstream, and tune()'s
// "(PGTune)" values to the same numbers.
//
// Where the expected values come from: le0pard/pgtune at 7caef27c204d304623eda21f23e7d56c1ad78d36 (2026-07-30),
// src/features/configuration/configurationSlice.js and the formatValue of
// src/common/components/configurationView/index.jsx, run with node in a scratch directory outside this repo
// (@reduxjs/toolkit's createSelector replaced by plain composition; upstream's own 67 selector tests pass that way).
// Each point is the state PGTune's form submits: { dbVersion: 16, osType: 'linux', dbType: 'oltp',
// totalMemory: <RAM in MiB>, totalMemoryUnit: 'MB', cpuNum: cores, connectionNum: maxConnections,
// hdType: disk, dbSize: 'mid_ram' }. `values` are the selectors' results (memory in kB; null where a selector
// returns null or PGTune lists no parallel settings; io_method and io_workers are PostgreSQL 18 only and null here);
// `conf` is the postgresql.conf PGTune prints for it, without its comment header.
import { customTier, type Hardware, presetTier, tune } from '../../config-templates';
import { pgtune, pgtuneText, type PgTuneValues } from '../../config-templates/pgtune';

interface Point {
  name: string;
  hardware: Hardware;
  maxConnections: number;
  /** The concurrent users for which tune() asks for exactly maxConnections (absent: tune() refuses the machine). */
  users?: number;
  values: PgTuneValues;
  conf: string[];
}

const POINTS: Point[] = [
  {
    name: 'minimum tier: 4 cores, 16 GiB, NVMe',
    hardware: { cores: 4, ramMiB: 16384, disk: 'nvme' },
    maxConnections: 82,
    users: 50,
    values: {
      max_connections: 82,
      shared_buffers: 4194304,
      effective_cache_size: 12582912,
      maintenance_work_mem: 1048576,
      checkpoint_completion_target: 0.9,
      wal_buffers: 16384,
      default_statistics_target: 100,
      random_page_cost: 1.1,
      effective_io_concurrency: 1000,
      work_mem: 48770,
      huge_pages: 'try',
      jit: 'off',
      wal_compression: 'lz4',
      autovacuum_max_workers: null,
      autovacuum_work_mem: null,
      min_wal_size: 2097152,
      max_wal_size: 8388608,
      max_worker_processes: 4,
      max_parallel_workers_per_gather: 2,
      max_parallel_workers: 4,
      max_parallel_maintenance_workers: 2,
    },
    conf: [
      'max_connections = 82',
      'shared_buffers = 4GB',
      'effective_cache_size = 12GB',
      'maintenance_work_mem = 1GB',
      'checkpoint_completion_target = 0.9',
      'wal_buffers = 16MB',
      'default_statistics_target = 100',
      'random_page_cost = 1.1',
      'effective_io_concurrency = 1000',
      'work_mem = 48770kB',
      'huge_pages = try',
      'jit = off',
      'wal_compression = lz4',
      'min_wal_size = 2GB',
      'max_wal_size = 8GB',
      'max_worker_processes = 4',
      'max_parallel_workers_per_gather = 2',
      'max_parallel_workers = 4',
      'max_parallel_maintenance_workers = 2',
    ],
  },
  {
    name: 'recommended tier: 8 cores, 32 GiB, NVMe',
    hardware: { cores: 8, ramMiB: 32768, disk: 'nvme' },
    maxConnections: 152,
    users: 100,
    values: {
      max_connections: 152,
      shared_buffers: 8388608,
      effective_cache_size: 25165824,
      maintenance_work_mem: 2097152,
      checkpoint_completion_target: 0.9,
      wal_buffers: 16384,
      default_statistics_target: 100,
      random_page_cost: 1.1,
      effective_io_concurrency: 1000,
      work_mem: 52428,
      huge_pages: 'try',
      jit: 'off',
      wal_compression: 'lz4',
      autovacuum_max_workers: null,
      autovacuum_work_mem: 2097152,
      min_wal_size: 2097152,
      max_wal_size: 8388608,
      max_worker_processes: 8,
      max_parallel_workers_per_gather: 4,
      max_parallel_workers: 8,
      max_parallel_maintenance_workers: 4,
    },
    conf: [
      'max_connections = 152',
      'shared_buffers = 8GB',
      'effective_cache_size = 24GB',
      'maintenance_work_mem = 2GB',
      'checkpoint_completion_target = 0.9',
      'wal_buffers = 16MB',
      'default_statistics_target = 100',
      'random_page_cost = 1.1',
      'effective_io_concurrency = 1000',
      'work_mem = 52428kB',
      'huge_pages = try',
      'jit = off',
      'wal_compression = lz4',
      'autovacuum_work_mem = 2GB',
      'min_wal_size = 2GB',
      'max_wal_size = 8GB',
      'max_worker_processes = 8',
      'max_parallel_workers_per_gather = 4',
      'max_parallel_workers = 8',
      'max_parallel_maintenance_workers = 4',
    ],
  },
  {
    name: 'powerhouse tier: 16 cores, 64 GiB, NVMe',
    hardware: { cores: 16, ramMiB: 65536, disk: 'nvme' },
    maxConnections: 292,
    users: 200,
    values: {
      max_connections: 292,
      shared_buffers: 16777216,
      effective_cache_size: 50331648,
      maintenance_work_mem: 4194304,
      checkpoint_completion_target: 0.9,
      wal_buffers: 16384,
      default_statistics_target: 100,
      random_page_cost: 1.1,
      effective_io_concurrency: 1000,
      work_mem: 54471,
      huge_pages: 'try',
      jit: 'off',
      wal_compression: 'lz4',
      autovacuum_max_workers: 4,
      autovacuum_work_mem: 2097152,
      min_wal_size: 2097152,
      max_wal_size: 8388608,
      max_worker_processes: 16,
      max_parallel_workers_per_gather: 4,
      max_parallel_workers: 16,
      max_parallel_maintenance_workers: 4,
    },
    conf: [
      'max_connections = 292',
      'shared_buffers = 16GB',
      'effective_cache_size = 48GB',
      'maintenance_work_mem = 4GB',
      'checkpoint_completion_target = 0.9',
      'wal_buffers = 16MB',
      'default_statistics_target = 100',
      'random_page_cost = 1.1',
      'effective_io_concurrency = 1000',
      'work_mem = 54471kB',
      'huge_pages = try',
      'jit = off',
      'wal_compression = lz4',
      'autovacuum_max_workers = 4',
      'autovacuum_work_mem = 2GB',
      'min_wal_size = 2GB',
      'max_wal_size = 8GB',
      'max_worker_processes = 16',
      'max_parallel_workers_per_gather = 4',
      'max_parallel_workers = 16',
      'max_parallel_maintenance_workers = 4',
    ],
  },
  {
    name: '3 cores (no parallel settings), an odd RAM size, HDD',
    hardware: { cores: 3, ramMiB: 6000, disk: 'hdd' },
    maxConnections: 40,
    users: 13,
    values: {
      max_connections: 40,
      shared_buffers: 1536000,
      effective_cache_size: 4608000,
      maintenance_work_mem: 384000,
      checkpoint_completion_target: 0.9,
      wal_buffers: 16384,
      default_statistics_target: 100,
      random_page_cost: 4,
      effective_io_concurrency: 2,
      work_mem: 32000,
      huge_pages: 'off',
      jit: 'off',
      wal_compression: 'lz4',
      autovacuum_max_workers: null,
      autovacuum_work_mem: null,
      min_wal_size: 2097152,
      max_wal_size: 8388608,
      max_worker_processes: null,
      max_parallel_workers_per_gather: null,
      max_parallel_workers: null,
      max_parallel_maintenance_workers: null,
    },
    conf: [
      'max_connections = 40',
      'shared_buffers = 1500MB',
      'effective_cache_size = 4500MB',
      'maintenance_work_mem = 375MB',
      'checkpoint_completion_target = 0.9',
      'wal_buffers = 16MB',
      'default_statistics_target = 100',
      'random_page_cost = 4',
      'effective_io_concurrency = 2',
      'work_mem = 32000kB',
      'huge_pages = off',
      'jit = off',
      'wal_compression = lz4',
      'min_wal_size = 2GB',
      'max_wal_size = 8GB',
    ],
  },
  {
    name: '40 cores and 192 GiB: the 8 GB maintenance cap, 5 autovacuum workers, SSD',
    hardware: { cores: 40, ramMiB: 196608, disk: 'ssd' },
    maxConnections: 600,
    users: 388,
    values: {
      max_connections: 600,
      shared_buffers: 50331648,
      effective_cache_size: 150994944,
      maintenance_work_mem: 8388608,
      checkpoint_completion_target: 0.9,
      wal_buffers: 16384,
      default_statistics_target: 100,
      random_page_cost: 1.1,
      effective_io_concurrency: 200,
      work_mem: 78643,
      huge_pages: 'try',
      jit: 'off',
      wal_compression: 'lz4',
      autovacuum_max_workers: 5,
      autovacuum_work_mem: 2097152,
      min_wal_size: 2097152,
      max_wal_size: 8388608,
      max_worker_processes: 40,
      max_parallel_workers_per_gather: 4,
      max_parallel_workers: 40,
      max_parallel_maintenance_workers: 4,
    },
    conf: [
      'max_connections = 600',
      'shared_buffers = 48GB',
      'effective_cache_size = 144GB',
      'maintenance_work_mem = 8GB',
      'checkpoint_completion_target = 0.9',
      'wal_buffers = 16MB',
      'default_statistics_target = 100',
      'random_page_cost = 1.1',
      'effective_io_concurrency = 200',
      'work_mem = 78643kB',
      'huge_pages = try',
      'jit = off',
      'wal_compression = lz4',
      'autovacuum_max_workers = 5',
      'autovacuum_work_mem = 2GB',
      'min_wal_size = 2GB',
      'max_wal_size = 8GB',
      'max_worker_processes = 40',
      'max_parallel_workers_per_gather = 4',
      'max_parallel_workers = 40',
      'max_parallel_maintenance_workers = 4',
    ],
  },
  {
    name: 'more connections than RAM: the 4 MB work_mem floor',
    hardware: { cores: 2, ramMiB: 4096, disk: 'ssd' },
    maxConnections: 325,
    values: {
      max_connections: 325,
      shared_buffers: 1048576,
      effective_cache_size: 3145728,
      maintenance_work_mem: 262144,
      checkpoint_completion_target: 0.9,
      wal_buffers: 16384,
      default_statistics_target: 100,
      random_page_cost: 1.1,
      effective_io_concurrency: 200,
      work_mem: 4096,
      huge_pages: 'off',
      jit: 'off',
      wal_compression: 'lz4',
      autovacuum_max_workers: null,
      autovacuum_work_mem: null,
      min_wal_size: 2097152,
      max_wal_size: 8388608,
      max_worker_processes: null,
      max_parallel_workers_per_gather: null,
      max_parallel_workers: null,
      max_parallel_maintenance_workers: null,
    },
    conf: [
      'max_connections = 325',
      'shared_buffers = 1GB',
      'effective_cache_size = 3GB',
      'maintenance_work_mem = 256MB',
      'checkpoint_completion_target = 0.9',
      'wal_buffers = 16MB',
      'default_statistics_target = 100',
      'random_page_cost = 1.1',
      'effective_io_concurrency = 200',
      'work_mem = 4MB',
      'huge_pages = off',
      'jit = off',
      'wal_compression = lz4',
      'min_wal_size = 2GB',
      'max_wal_size = 8GB',
    ],
  },
  {
    name: 'the smallest machine tune() accepts: wal_buffers rounded up to 16 MB',
    hardware: { cores: 1, ramMiB: 2048, disk: 'hdd' },
    maxConnections: 30,
    users: 5,
    values: {
      max_connections: 30,
      shared_buffers: 524288,
      effective_cache_size: 1572864,
      maintenance_work_mem: 131072,
      checkpoint_completion_target: 0.9,
      wal_buffers: 16384,
      default_statistics_target: 100,
      random_page_cost: 4,
      effective_io_concurrency: 2,
      work_mem: 13797,
      huge_pages: 'off',
      jit: 'off',
      wal_compression: 'lz4',
      autovacuum_max_workers: null,
      autovacuum_work_mem: null,
      min_wal_size: 2097152,
      max_wal_size: 8388608,
      max_worker_processes: null,
      max_parallel_workers_per_gather: null,
      max_parallel_workers: null,
      max_parallel_maintenance_workers: null,
    },
    conf: [
      'max_connections = 30',
      'shared_buffers = 512MB',
      'effective_cache_size = 1536MB',
      'maintenance_work_mem = 128MB',
      'checkpoint_completion_target = 0.9',
      'wal_buffers = 16MB',
      'default_statistics_target = 100',
      'random_page_cost = 4',
      'effective_io_concurrency = 2',
      'work_mem = 13797kB',
      'huge_pages = off',
      'jit = off',
      'wal_compression = lz4',
      'min_wal_size = 2GB',
      'max_wal_size = 8GB',
    ],
  },
];

describe('pgtune(): PGTune 7caef27 (oltp, PostgreSQL 16, Linux)', () => {
  it.each(POINTS.map((p) => [p.name, p] as const))('computes what upstream computes: %s', (_, p) => {
    expect(pgtune(p.hardware, p.maxConnections)).toEqual(p.values);
  });

  it.each(POINTS.map((p) => [p.name, p] as const))('prints what upstream prints: %s', (_, p) => {
    const values = pgtune(p.hardware, p.maxConnections);
    const conf = Object.keys(values)
      .map((name) => [name, pgtuneText(values, name)])
      .filter(([, text]) => text !== '')
      .map(([name, text]) => `${name} = ${text}`);
    expect(conf).toEqual(p.conf);
  });

  it('prints nothing for a setting PGTune does not know', () => {
    expect(pgtuneText(pgtune(POINTS[0].hardware, 82), 'synchronous_commit')).toBe('');
  });
});

describe('tune() at the pinned points', () => {
  const tiers = POINTS.filter((p) => p.users !== undefined);

  it.each(tiers.map((p) => [p.name, p] as const))(
    'takes upstream\'s value wherever a reason says "(PGTune)": %s',
    (_, p) => {
      const s = tune(customTier(p.hardware, p.users!));
      expect(s.postgres.max_connections.value).toBe(p.maxConnections);
      const upstream = p.values as unknown as Record<string, unknown>;
      const compared: string[] = [];
      for (const [name, param] of Object.entries(s.postgres)) {
        if (!/\(PGTune\)/.test(param.reason)) continue;
        const want = param.unit === 'MB' ? Math.floor((upstream[name] as number) / 1024) : upstream[name];
        expect([name, param.value]).toEqual([name, want]);
        compared.push(name);
      }
      expect(compared.length).toBeGreaterThanOrEqual(10);
    },
  );

  it('keeps its own values where it says why, at the three tiers', () => {
    const [minimum, recommended, powerhouse] = (['minimum', 'recommended', 'powerhouse'] as const).map((n) =>
      tune(presetTier(n)),
    );
    // PGTune's work_mem leaves maintenance, backend memory and the OS out of the budget; tune()'s does not.
    expect([minimum, recommended, powerhouse].map((s) => s.postgres.work_mem.value)).toEqual([30, 33, 36]);
    expect([minimum, recommended, powerhouse].map((s) => s.postgres.autovacuum_work_mem.value)).toEqual([
      256, 512, 512,
    ]);
    expect([minimum, recommended, powerhouse].map((s) => s.postgres.max_worker_processes.value)).toEqual([
      8, 8, 16,
    ]);
  });
});

// The capacity plan: how much data, index, WAL, disk and memory a burst of uploads needs, and which tier
// fits. Replaces the planning notes' "Memory Calculation", which added the raw data and 40 × 256 MB of work_mem
// to RAM: COPY streams rows to disk (it does not hold them in memory) and uses no work_mem.
import {
  HETZNER_PRICES,
  HETZNER_PRIMARY_IPV4_EUR_PER_MONTH,
  HETZNER_SERVER_TYPES,
  HETZNER_VOLUME_EUR_PER_GB_MONTH,
  type PriceList,
  type ServerType,
} from './hetzner';
import type { PresetTierName, Settings } from './settings';
import { PRESET_TIERS } from './tiers';
import {
  DEFAULT_CALIBRATION,
  estimateLoad,
  loadAssumptions,
  type Calibration,
  type LoadEstimate,
} from './throughput';
import { memoryWorstCaseMiB, tune } from './tune';

export interface PlanInput {
  users: number;
  rowsPerUser: number;
  /** Average bytes of column data per row (TM entry: source + target + metadata ≈ 200). */
  rowBytes: number;
  /** The wanted load time of the whole burst (`--within 30s`); a tier that cannot meet it does not fit. */
  withinSeconds?: number;
  /** Throughput calibration (bench:schema's figures); default the committed one. */
  calibration?: Calibration;
}

/** Heap tuple header (23 B, aligned to 24) + line pointer (4 B) + average alignment padding (4 B). */
export const HEAP_ROW_OVERHEAD = 32;
/** Usable fraction of an 8 KiB heap page (24 B page header). */
const HEAP_PAGE_FILL = 8168 / 8192;
/**
 * One entry of tm_entries' primary key (tm_id bigint, id bigint): 8 B index tuple header + 16 B key + 4 B line
 * pointer, at 90% leaf fill (tests/ingest/schema-v4.test.ts measures the real key against it).
 */
export const KEY_ENTRY_BYTES = 28 / 0.9;
/** tm_entries since migration 4: one index, the primary key (tm_id, id). */
export const INDEXES_PER_ROW = 1;
/** WAL per row: the heap record (row + ~30 B of record header) and one ~40 B record per index entry. */
const WAL_RECORD_OVERHEAD = 30;
const WAL_INDEX_RECORD = 40;
/** Full-page images after checkpoints, on top of the records (measured with checkpoint_timeout = 15 min). */
const WAL_FPW_FACTOR = 1.1;
/** Leave this fraction of the disk free: vacuum, index rebuilds and the OS need room. */
const DISK_HEADROOM = 0.3;

const GB = 1e9;

export interface MemoryLine {
  readonly item: string;
  readonly mib: number;
  readonly formula: string;
}

export interface TierFit {
  readonly tier: PresetTierName;
  readonly server: ServerType;
  readonly fits: boolean;
  /** Why not, or what to add (a volume). */
  readonly note: string;
  readonly volumeGB: number;
  /** Server + primary IPv4 + volume, EUR excl. VAT, at the list prices of Plan.prices. */
  readonly eurPerMonth: number;
  /** How long the burst takes on this tier (config-templates/throughput.ts). */
  readonly load: LoadEstimate;
}

export interface Plan {
  readonly input: PlanInput;
  readonly rows: number;
  readonly rawGB: number;
  readonly heapGB: number;
  readonly indexGB: number;
  readonly walGB: number;
  /** Table + indexes + max_wal_size of the chosen tier, with headroom. */
  readonly diskNeededGB: number;
  readonly chosen: TierFit;
  readonly memory: readonly MemoryLine[];
  readonly candidates: readonly TierFit[];
  /** The date of the prices (Plan.prices.asOf). */
  readonly pricesAsOf: string;
  /** Their date, the servers they apply to, their source and what is not known about them. */
  readonly prices: PriceList;
  /** The load-time model's assumptions; with withinSeconds, whether any one server meets it. */
  readonly loadAssumptions: readonly string[];
  readonly withinSeconds?: number;
  /** False when no tier loads the burst within withinSeconds: one server cannot, at the calibrated rate. */
  readonly oneServerMeetsWithin?: boolean;
}

export function plan(input: PlanInput): Plan {
  const { users, rowsPerUser, rowBytes, withinSeconds } = input;
  const cal = input.calibration ?? DEFAULT_CALIBRATION;
  for (const [k, v] of Object.entries({
    users,
    rowsPerUser,
    rowBytes,
    ...(withinSeconds !== undefined ? { withinSeconds } : {}),
  }))
    if (!Number.isFinite(v) || v <= 0) throw new Error(`${k} must be a positive number, got ${v}`);
  const rows = users * rowsPerUser;
  const rawGB = (rows * rowBytes) / GB;
  const heapGB = (rows * (rowBytes + HEAP_ROW_OVERHEAD)) / HEAP_PAGE_FILL / GB;
  const indexGB = (rows * INDEXES_PER_ROW * KEY_ENTRY_BYTES) / GB;
  const walGB =
    (rows * (rowBytes + WAL_RECORD_OVERHEAD + INDEXES_PER_ROW * WAL_INDEX_RECORD) * WAL_FPW_FACTOR) / GB;

  const candidates = (Object.keys(PRESET_TIERS) as PresetTierName[]).map((name) => {
    const f = fit(name, users, heapGB + indexGB, tune(PRESET_TIERS[name]));
    const load = estimateLoad(PRESET_TIERS[name].hardware.cores, users, rows, cal);
    if (!f.fits || withinSeconds === undefined || load.seconds <= withinSeconds) return { ...f, load };
    return {
      ...f,
      load,
      fits: false,
      note: `loads in ~${Math.ceil(load.seconds)} s, over the wanted ${withinSeconds} s`,
    };
  });
  const chosen = candidates.find((c) => c.fits) ?? candidates[candidates.length - 1];
  const meets =
    withinSeconds === undefined ? undefined : candidates.some((c) => c.load.seconds <= withinSeconds);
  const settings = tune(PRESET_TIERS[chosen.tier]);
  const diskNeededGB = diskNeeded(heapGB + indexGB, settings);
  return {
    input,
    rows,
    rawGB,
    heapGB,
    indexGB,
    walGB,
    diskNeededGB,
    chosen,
    memory: memoryLines(settings),
    candidates,
    pricesAsOf: HETZNER_PRICES.asOf,
    prices: HETZNER_PRICES,
    loadAssumptions: loadAssumptions(cal),
    ...(withinSeconds !== undefined ? { withinSeconds, oneServerMeetsWithin: meets } : {}),
  };
}

function diskNeeded(storedGB: number, s: Settings): number {
  const maxWalGB = (Number(s.postgres.max_wal_size.value) * 1024 * 1024) / GB;
  return (storedGB + maxWalGB) / (1 - DISK_HEADROOM);
}

function fit(tier: PresetTierName, users: number, storedGB: number, s: Settings): Omit<TierFit, 'load'> {
  const server = HETZNER_SERVER_TYPES[tier];
  const serverEur = server.eurPerMonth + HETZNER_PRIMARY_IPV4_EUR_PER_MONTH;
  const need = diskNeeded(storedGB, s);
  if (users > s.tier.users) {
    return {
      tier,
      server,
      fits: false,
      note: `${users} concurrent uploaders exceed the tier's ${s.tier.users}`,
      volumeGB: 0,
      eurPerMonth: serverEur,
    };
  }
  const volumeGB = need > server.diskGB ? Math.ceil(need / 10) * 10 : 0;
  return {
    tier,
    server,
    fits: true,
    note:
      volumeGB > 0
        ? `data needs ${need.toFixed(0)} GB with headroom, more than the local ${server.diskGB} GB: attach a ${volumeGB} GB volume`
        : `fits on the local ${server.diskGB} GB NVMe`,
    volumeGB,
    eurPerMonth: serverEur + volumeGB * HETZNER_VOLUME_EUR_PER_GB_MONTH,
  };
}

function memoryLines(s: Settings): MemoryLine[] {
  const m = s.memory;
  const p = s.postgres;
  const conn = Number(p.max_connections.value) + Number(p.max_parallel_workers.value);
  return [
    { item: 'shared_buffers', mib: m.sharedBuffersMiB, formula: '25% of RAM' },
    {
      item: 'work_mem, worst case',
      mib: m.workMemWorstCaseMiB,
      formula: `(${p.max_connections.value} connections + ${p.max_parallel_workers.value} parallel workers) × ${p.work_mem.value} MB × ${m.workMemFactor} nodes; COPY itself uses none`,
    },
    {
      item: 'maintenance + autovacuum',
      mib: m.maintenanceMiB,
      formula: `maintenance_work_mem ${p.maintenance_work_mem.value} MB + ${p.autovacuum_max_workers.value} × autovacuum_work_mem ${p.autovacuum_work_mem.value} MB`,
    },
    { item: 'backend overhead', mib: m.backendOverheadMiB, formula: `${conn} backends × 10 MB` },
    { item: 'wal_buffers', mib: m.walBuffersMiB, formula: '3% of shared_buffers, ≤ 16 MB' },
    { item: 'OS, PgBouncer, worker', mib: m.osReserveMiB, formula: 'max(512 MB, 10% of RAM)' },
    { item: 'total worst case', mib: memoryWorstCaseMiB(m), formula: `≤ RAM ${m.ramMiB} MiB` },
  ];
}

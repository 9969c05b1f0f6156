import type { DiskKind, Hardware, PresetTierName, Tier, TierName } from './settings';

/** Below this PostgreSQL, PgBouncer and the worker do not fit with any useful work_mem. */
export const MIN_RAM_MIB = 2048;
export const MAX_USERS = 10_000;
/** The headline workload: 40 people uploading at the same moment. Used when `detect` is not told otherwise. */
export const DEFAULT_DETECT_USERS = 40;

export const PRESET_TIERS: Readonly<Record<PresetTierName, Tier>> = {
  minimum: { name: 'minimum', hardware: { cores: 4, ramMiB: 16 * 1024, disk: 'nvme' }, users: 50 },
  recommended: { name: 'recommended', hardware: { cores: 8, ramMiB: 32 * 1024, disk: 'nvme' }, users: 100 },
  powerhouse: { name: 'powerhouse', hardware: { cores: 16, ramMiB: 64 * 1024, disk: 'nvme' }, users: 200 },
};

export const TIER_NAMES: readonly TierName[] = ['minimum', 'recommended', 'powerhouse', 'custom', 'detect'];
export const DISK_KINDS: readonly DiskKind[] = ['nvme', 'ssd', 'hdd'];

/** A tier that cannot be tuned: the message says which input and what is allowed. */
export class TierError extends Error {
  override readonly name = 'TierError';
}

export function isPresetTierName(name: string): name is PresetTierName {
  return Object.prototype.hasOwnProperty.call(PRESET_TIERS, name);
}

export function presetTier(name: PresetTierName): Tier {
  const tier = PRESET_TIERS[name];
  if (!tier) throw new TierError(`unknown tier "${name}": use one of ${TIER_NAMES.join(', ')}`);
  return tier;
}

/** Custom hardware (also used by `detect` with this machine's numbers). Validates every input. */
export function customTier(hardware: Hardware, users: number, name: TierName = 'custom'): Tier {
  const { cores, ramMiB, disk } = hardware;
  if (!Number.isInteger(cores) || cores < 1 || cores > 1024)
    throw new TierError(`cores must be a whole number from 1 to 1024, got ${cores}`);
  if (!Number.isFinite(ramMiB) || ramMiB <= 0)
    throw new TierError(`RAM must be a positive size, got ${ramMiB} MiB`);
  if (ramMiB < MIN_RAM_MIB)
    throw new TierError(
      `RAM ${ramMiB} MiB is below the ${MIN_RAM_MIB} MiB that PostgreSQL, PgBouncer and the ingest worker need together`,
    );
  if (!DISK_KINDS.includes(disk))
    throw new TierError(`disk must be one of ${DISK_KINDS.join(', ')}, got "${disk}"`);
  if (!Number.isInteger(users) || users < 1 || users > MAX_USERS)
    throw new TierError(`users must be a whole number from 1 to ${MAX_USERS}, got ${users}`);
  return { name, hardware: { cores, ramMiB: Math.floor(ramMiB), disk }, users };
}

/**
 * Parses a RAM size such as "16GB", "16G", "16384MB", "512MiB" or a bare number of GiB.
 * PostgreSQL's convention is used: GB means GiB.
 */
export function parseRamMiB(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(g|gb|gib|m|mb|mib|t|tb|tib)?\s*$/i.exec(text);
  if (!m) throw new TierError(`RAM "${text}" is not a size: write e.g. 16GB or 16384MB`);
  const n = Number(m[1]);
  const unit = (m[2] ?? 'g').toLowerCase()[0];
  const mib = unit === 'm' ? n : unit === 't' ? n * 1024 * 1024 : n * 1024;
  if (!(mib > 0)) throw new TierError(`RAM must be positive, got "${text}"`);
  return Math.floor(mib);
}

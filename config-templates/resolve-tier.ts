// A tier from text inputs (CLI flags or environment variables), validated with messages that name the input.
// Pure: `detect` gets this machine's numbers from the caller.
import type { DiskKind, Tier } from './settings';
import {
  customTier,
  DEFAULT_DETECT_USERS,
  DISK_KINDS,
  isPresetTierName,
  parseRamMiB,
  presetTier,
  TIER_NAMES,
  TierError,
} from './tiers';

export interface TierSpec {
  tier?: string;
  cores?: string;
  ram?: string;
  disk?: string;
  users?: string;
}

/** How an input is called where it came from: `--cores` for flags, `POWERHOUSE_LOCAL_CORES` for env. */
export type InputName = (field: keyof TierSpec) => string;
export const flagName: InputName = (f) => `--${f}`;

export function resolveTier(
  spec: TierSpec,
  detected: { cores: number; ramMiB: number },
  inputName: InputName = flagName,
): Tier {
  const int = (field: 'cores' | 'users'): number | undefined => {
    const text = spec[field];
    if (text === undefined || text === '') return undefined;
    if (!/^\d+$/.test(text.trim()))
      throw new TierError(`${inputName(field)} must be a whole number, got "${text}"`);
    return Number(text);
  };
  const name = spec.tier || 'detect';
  const cores = int('cores');
  const users = int('users');
  const ramMiB = spec.ram ? parseRamMiB(spec.ram) : undefined;
  if (spec.disk && !(DISK_KINDS as readonly string[]).includes(spec.disk))
    throw new TierError(`${inputName('disk')} must be one of ${DISK_KINDS.join(', ')}, got "${spec.disk}"`);
  const disk = (spec.disk || undefined) as DiskKind | undefined;

  let base: Tier;
  if (isPresetTierName(name)) base = presetTier(name);
  else if (name === 'detect')
    base = customTier({ ...detected, disk: 'nvme' }, DEFAULT_DETECT_USERS, 'detect');
  else if (name === 'custom') {
    if (cores === undefined || ramMiB === undefined)
      throw new TierError(
        `${inputName('tier')} custom needs ${inputName('cores')} and ${inputName('ram')} (and optionally ${inputName('disk')}, ${inputName('users')})`,
      );
    base = customTier({ cores, ramMiB, disk: disk ?? 'nvme' }, users ?? DEFAULT_DETECT_USERS);
  } else
    throw new TierError(`${inputName('tier')} "${name}" is not a tier: use one of ${TIER_NAMES.join(', ')}`);

  if (cores === undefined && ramMiB === undefined && disk === undefined && users === undefined) return base;
  return customTier(
    {
      cores: cores ?? base.hardware.cores,
      ramMiB: ramMiB ?? base.hardware.ramMiB,
      disk: disk ?? base.hardware.disk,
    },
    users ?? base.users,
    base.name === 'detect' ? 'detect' : 'custom',
  );
}

// The local stack's tier: `detect` (this machine's cores and RAM) unless the environment says otherwise, since
// `cdktf synth` takes no flags. POWERHOUSE_LOCAL_TIER=minimum|recommended|powerhouse|detect|custom, and
// POWERHOUSE_LOCAL_CORES / _RAM (e.g. 16GB) / _DISK / _USERS override single values.
import os from 'node:os';
import {
  customTier,
  DEFAULT_DETECT_USERS,
  DISK_KINDS,
  isPresetTierName,
  parseRamMiB,
  presetTier,
  TIER_NAMES,
  TierError,
  type DiskKind,
  type Tier,
} from '../config-templates';

export function detectTier(users = DEFAULT_DETECT_USERS): Tier {
  return customTier(
    { cores: os.availableParallelism(), ramMiB: Math.floor(os.totalmem() / 2 ** 20), disk: 'nvme' },
    users,
    'detect',
  );
}

const ENV = 'POWERHOUSE_LOCAL';

function int(name: string, text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  if (!/^\d+$/.test(text.trim())) throw new TierError(`${ENV}_${name} must be a whole number, got "${text}"`);
  return Number(text);
}

export function localTierFromEnv(env: NodeJS.ProcessEnv = process.env): Tier {
  const name = env[`${ENV}_TIER`] || 'detect';
  const cores = int('CORES', env[`${ENV}_CORES`]);
  const ram = env[`${ENV}_RAM`] ? parseRamMiB(env[`${ENV}_RAM`]!) : undefined;
  const diskText = env[`${ENV}_DISK`];
  if (diskText && !(DISK_KINDS as readonly string[]).includes(diskText))
    throw new TierError(`${ENV}_DISK must be one of ${DISK_KINDS.join(', ')}, got "${diskText}"`);
  const disk = diskText as DiskKind | undefined;
  const users = int('USERS', env[`${ENV}_USERS`]);
  let base: Tier;
  if (isPresetTierName(name)) base = presetTier(name);
  else if (name === 'detect') base = detectTier();
  else if (name === 'custom') {
    if (cores === undefined || ram === undefined)
      throw new TierError(`${ENV}_TIER=custom needs ${ENV}_CORES and ${ENV}_RAM`);
    base = customTier({ cores, ramMiB: ram, disk: disk ?? 'nvme' }, users ?? DEFAULT_DETECT_USERS);
  } else throw new TierError(`${ENV}_TIER "${name}" is not one of ${TIER_NAMES.join(', ')}`);
  if (cores === undefined && ram === undefined && disk === undefined && users === undefined) return base;
  return customTier(
    {
      cores: cores ?? base.hardware.cores,
      ramMiB: ram ?? base.hardware.ramMiB,
      disk: disk ?? base.hardware.disk,
    },
    users ?? base.users,
    base.name === 'detect' ? 'detect' : 'custom',
  );
}

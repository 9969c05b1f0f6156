// --tier / --cores / --ram / --disk / --users → a validated Tier. `detect` reads this machine.
import os from 'node:os';
import { type Command, Option } from 'commander';
import {
  customTier,
  DEFAULT_DETECT_USERS,
  DISK_KINDS,
  type DiskKind,
  isPresetTierName,
  parseRamMiB,
  presetTier,
  type Tier,
  TIER_NAMES,
  TierError,
} from '../config-templates';

export interface TierFlags {
  tier?: string;
  cores?: string;
  ram?: string;
  disk?: string;
  users?: string;
}

export function addTierOptions(cmd: Command, defaultTier = 'detect'): Command {
  return cmd
    .addOption(new Option('--tier <name>', `tier: ${TIER_NAMES.join(', ')}`).default(defaultTier))
    .option('--cores <n>', 'CPU cores (custom tier, or override)')
    .option('--ram <size>', 'RAM, e.g. 16GB or 16384MB (custom tier, or override)')
    .addOption(new Option('--disk <kind>', 'disk kind').choices([...DISK_KINDS]))
    .option('--users <n>', 'people uploading at the same moment');
}

function int(flag: string, text: string): number {
  if (!/^\d+$/.test(text.trim())) throw new TierError(`--${flag} must be a whole number, got "${text}"`);
  return Number(text);
}

export function detectHardware(): { cores: number; ramMiB: number } {
  return { cores: os.availableParallelism(), ramMiB: Math.floor(os.totalmem() / 1024 / 1024) };
}

export function tierFromFlags(f: TierFlags): Tier {
  const name = f.tier ?? 'detect';
  const overrides = {
    cores: f.cores !== undefined ? int('cores', f.cores) : undefined,
    ramMiB: f.ram !== undefined ? parseRamMiB(f.ram) : undefined,
    disk: f.disk as DiskKind | undefined,
    users: f.users !== undefined ? int('users', f.users) : undefined,
  };
  const anyOverride = Object.values(overrides).some((v) => v !== undefined);
  if (isPresetTierName(name)) {
    const base = presetTier(name);
    if (!anyOverride) return base;
    return customTier(
      {
        cores: overrides.cores ?? base.hardware.cores,
        ramMiB: overrides.ramMiB ?? base.hardware.ramMiB,
        disk: overrides.disk ?? base.hardware.disk,
      },
      overrides.users ?? base.users,
    );
  }
  if (name === 'detect') {
    const hw = detectHardware();
    return customTier(
      {
        cores: overrides.cores ?? hw.cores,
        ramMiB: overrides.ramMiB ?? hw.ramMiB,
        disk: overrides.disk ?? 'nvme',
      },
      overrides.users ?? DEFAULT_DETECT_USERS,
      'detect',
    );
  }
  if (name === 'custom') {
    if (overrides.cores === undefined || overrides.ramMiB === undefined)
      throw new TierError('--tier custom needs --cores and --ram (and optionally --disk, --users)');
    return customTier(
      { cores: overrides.cores, ramMiB: overrides.ramMiB, disk: overrides.disk ?? 'nvme' },
      overrides.users ?? DEFAULT_DETECT_USERS,
    );
  }
  throw new TierError(`unknown tier "${name}": use one of ${TIER_NAMES.join(', ')}`);
}

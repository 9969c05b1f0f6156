// --tier / --cores / --ram / --disk / --users → a validated Tier. `detect` reads this machine.
import { type Command, Option } from 'commander';
import { DISK_KINDS, resolveTier, type Tier, TIER_NAMES, tune } from '../config-templates';
import { detectHardware } from '../stacks/local-tier';

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

/**
 * --tier and its overrides; `detect` reads this machine. A tier that cannot be tuned (too little RAM for the
 * users, say) is refused here too, as the usage error it is (TierError, exit 2), before any command starts work.
 */
export function tierFromFlags(f: TierFlags): Tier {
  const tier = resolveTier(f, detectHardware());
  tune(tier);
  return tier;
}

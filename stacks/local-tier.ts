// This machine's hardware, and the local stack's tier: `detect` unless the environment says otherwise, since
// `cdktf synth` takes no flags. POWERHOUSE_LOCAL_TIER=minimum|recommended|powerhouse|detect|custom, and
// POWERHOUSE_LOCAL_CORES / _RAM (e.g. 16GB) / _DISK / _USERS override single values.
import os from 'node:os';
import { resolveTier, type Tier } from '../config-templates';

export function detectHardware(): { cores: number; ramMiB: number } {
  return { cores: os.availableParallelism(), ramMiB: Math.floor(os.totalmem() / 2 ** 20) };
}

export function detectTier(): Tier {
  return resolveTier({ tier: 'detect' }, detectHardware());
}

const ENV = 'POWERHOUSE_LOCAL';

export function localTierFromEnv(env: NodeJS.ProcessEnv = process.env): Tier {
  return resolveTier(
    {
      tier: env[`${ENV}_TIER`],
      cores: env[`${ENV}_CORES`],
      ram: env[`${ENV}_RAM`],
      disk: env[`${ENV}_DISK`],
      users: env[`${ENV}_USERS`],
    },
    detectHardware(),
    (field) => `${ENV}_${field.toUpperCase()}`,
  );
}

// The cdktf app: `minimum`, `recommended`, `powerhouse` on Hetzner and `local` on Docker. Exported so the
// CLI (`powerhouse synth`) can build it in-process; stacks/main.ts is what `cdktf synth` runs.
import path from 'node:path';
import { App } from 'cdktf';
import type { PresetTierName, Tier } from '../config-templates';
import { HetznerStack, type HetznerStackProps } from './hetzner-stack';
import { LocalDockerStack, type LocalDockerStackProps } from './local-docker-stack';
import { localTierFromEnv } from './local-tier';
import { buildWorkerBundle, REPO_ROOT, type WorkerBundle } from './worker-bundle';

export const HETZNER_STACKS: readonly PresetTierName[] = ['minimum', 'recommended', 'powerhouse'];
export const LOCAL_STACK = 'local';
/** Where synth leaves the worker bundle before cdktf copies it into each Hetzner stack's assets. */
export const WORKER_BUILD_DIR = path.join(REPO_ROOT, '.gen', 'worker');

export interface PowerhouseAppOptions {
  /** Default: cdktf's (cdktf.out, or CDKTF_OUTDIR when the CLI runs the app). */
  readonly outdir?: string;
  /** Default: buildWorkerBundle(WORKER_BUILD_DIR). */
  readonly workerBundle?: WorkerBundle;
  /** Default: localTierFromEnv() (`detect` unless POWERHOUSE_LOCAL_* say otherwise). */
  readonly localTier?: Tier;
  readonly local?: Omit<LocalDockerStackProps, 'tier'>;
  readonly hetzner?: Partial<Record<PresetTierName, Omit<HetznerStackProps, 'tier' | 'workerBundle'>>>;
}

export function buildApp(opts: PowerhouseAppOptions = {}): App {
  const app = new App(opts.outdir ? { outdir: opts.outdir } : {});
  const workerBundle = opts.workerBundle ?? buildWorkerBundle(WORKER_BUILD_DIR);
  for (const tier of HETZNER_STACKS) {
    new HetznerStack(app, tier, { tier, workerBundle, ...opts.hetzner?.[tier] });
  }
  new LocalDockerStack(app, LOCAL_STACK, { tier: opts.localTier ?? localTierFromEnv(), ...opts.local });
  return app;
}

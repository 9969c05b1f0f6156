// The ingest worker as one self-contained JavaScript file (esbuild: our code and its npm dependencies
// inlined). The Hetzner host runs it with Debian's own Node.js, so the server never talks to a package
// registry: Terraform copies this file over SSH (see hetzner-stack.ts). Built at synth time from this checkout.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { buildSync } from 'esbuild';
import { buildDashboardAssets } from '../ingest/dashboard/build';

export const REPO_ROOT = path.resolve(__dirname, '..');
export const INGEST_ENTRY = 'ingest/main.ts';
/** The host's `powerhouse` (backup commands), bundled the same way. */
export const HOST_CLI_ENTRY = 'cli/host-main.ts';
/** Node.js major of the host image's distribution package (Debian 13: nodejs 20.19). */
export const HOST_NODE_TARGET = 'node20';

export interface BundleFile {
  /** Absolute path of the bundle. */
  readonly file: string;
  readonly sha256: string;
  readonly bytes: number;
}

export interface WorkerBundle extends BundleFile {
  /** The host's `powerhouse` command (cli/host-main.ts), shipped beside the worker. */
  readonly hostCli: BundleFile;
}

export function describeBundle(file: string): BundleFile {
  const data = fs.readFileSync(file);
  return { file, sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length };
}

/** Bundles `entry` into `outfile`; `define` replaces globals (esbuild's define). Throws with esbuild's messages. */
export function bundle(entry: string, outfile: string, define: Record<string, string> = {}): BundleFile {
  if (!fs.existsSync(entry)) throw new Error(`entry ${entry} not found: cannot bundle it`);
  try {
    buildSync({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      target: HOST_NODE_TARGET,
      format: 'cjs',
      minify: true,
      sourcemap: false,
      legalComments: 'none',
      // pg's optional native binding: never installed, pg falls back to JavaScript. esbuild: only the
      // dashboard's build from source needs it, and the bundle carries the dashboard built (see below).
      external: ['pg-native', 'esbuild'],
      define,
      logLevel: 'silent',
    });
  } catch (err) {
    throw new Error(`bundling ${entry} failed: ${(err as Error).message}`);
  }
  return describeBundle(outfile);
}

/** The worker (`entry`, default ingest/main.ts) as outDir/ingest-worker.js and the host CLI as powerhouse-host.js. */
export function buildWorkerBundle(outDir: string, entry = path.join(REPO_ROOT, INGEST_ENTRY)): WorkerBundle {
  // The ops dashboard's page, script and stylesheet, built now and carried inside the worker (ingest/dashboard/assets.ts).
  const worker = bundle(entry, path.join(outDir, 'ingest-worker.js'), {
    POWERHOUSE_DASHBOARD_ASSETS: JSON.stringify(buildDashboardAssets()),
  });
  const hostCli = bundle(path.join(REPO_ROOT, HOST_CLI_ENTRY), path.join(outDir, 'powerhouse-host.js'));
  return { ...worker, hostCli };
}

// The cdktf app: four stacks synthesized together into a directory (in-process), and once through the real
// `cdktf synth` CLI, offline, with the real worker bundle built from ingest/main.ts.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { presetTier } from '../../config-templates';
import { buildApp, HETZNER_STACKS, LOCAL_STACK } from '../../stacks/app';
import { REPO_ROOT } from '../../stacks/worker-bundle';
import { testBundle, type TfJson } from './synth-helpers';

const ALL = [...HETZNER_STACKS, LOCAL_STACK].sort();
const bundle = testBundle();
const dirs: string[] = [];
const tmp = (prefix: string) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const stackJson = (out: string, name: string) =>
  JSON.parse(fs.readFileSync(path.join(out, 'stacks', name, 'cdk.tf.json'), 'utf8')) as TfJson;

it('synthesizes minimum, recommended, powerhouse and local, with the worker bundle in each Hetzner stack', () => {
  const out = tmp('powerhouse-synth-');
  buildApp({ outdir: out, workerBundle: bundle, localTier: presetTier('minimum') }).synth();
  const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
  expect(Object.keys(manifest.stacks).sort()).toEqual(ALL);
  for (const tier of HETZNER_STACKS) {
    const json = stackJson(out, tier);
    const source = json.resource.terraform_data.ingest_worker.provisioner[0].file.source as string;
    const copied = path.join(out, 'stacks', tier, source);
    expect(fs.readFileSync(copied).equals(fs.readFileSync(bundle.file))).toBe(true);
    // tls and local: the ingest endpoint's certificate and its fingerprint (stacks/ingest-tls.ts).
    expect(Object.keys(json.terraform.required_providers).sort()).toEqual([
      'hcloud',
      'local',
      'random',
      'tls',
    ]);
  }
  const local = stackJson(out, LOCAL_STACK);
  expect(Object.keys(local.terraform.required_providers).sort()).toEqual(['docker', 'random']);
  expect(JSON.stringify(local)).not.toContain('hcloud');
});

it('runs under `cdktf synth` offline (CHECKPOINT_DISABLE=1), bundling the real worker', () => {
  const out = tmp('powerhouse-cli-synth-');
  const r = spawnSync('npx', ['cdktf', 'synth', '--output', out], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, CHECKPOINT_DISABLE: '1', CI: '1', FORCE_COLOR: '0' },
    timeout: 170_000,
  });
  expect([r.status, r.stdout + r.stderr]).toEqual([
    0,
    expect.stringContaining('Generated Terraform code for the stacks'),
  ]);
  const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
  expect(Object.keys(manifest.stacks).sort()).toEqual(ALL);
  const json = stackJson(out, 'recommended');
  const w = json.resource.terraform_data.ingest_worker;
  const bundle = fs.readFileSync(path.join(out, 'stacks', 'recommended', w.provisioner[0].file.source));
  expect(bundle.length).toBeGreaterThan(100_000);
  expect(w.triggers_replace.bundle).toMatch(/^[0-9a-f]{64}$/);
}, 180_000);

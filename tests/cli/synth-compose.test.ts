// `powerhouse synth` and `powerhouse render --compose` as a user runs them.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');
const powerhouse = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(root, 'bin/powerhouse.js'), ...args], { encoding: 'utf8' });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-synth-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

it('synthesizes the four stacks offline into the directory it names', () => {
  const r = powerhouse('synth', '--out', path.join(tmp, 'out'));
  expect(r.status).toBe(0);
  for (const name of ['minimum', 'recommended', 'powerhouse', 'local']) {
    const json = JSON.parse(fs.readFileSync(path.join(tmp, 'out/stacks', name, 'cdk.tf.json'), 'utf8'));
    expect(json.terraform).toBeDefined();
    expect(r.stdout).toMatch(new RegExp(`^${name}\\s+\\S+cdk\\.tf\\.json`, 'm'));
  }
}, 120_000);

it('writes docker-compose.yml and a private .env once; a second run keeps the secrets', () => {
  const out = path.join(tmp, 'compose');
  expect(powerhouse('render', '--tier', 'minimum', '--compose', '--out', out).status).toBe(0);
  const compose = fs.readFileSync(path.join(out, 'docker-compose.yml'), 'utf8');
  expect(compose).toMatch(/tier minimum/);
  expect(compose).toMatch(/127\.0\.0\.1:/);
  const env = fs.readFileSync(path.join(out, '.env'), 'utf8');
  expect(fs.statSync(path.join(out, '.env')).mode & 0o777).toBe(0o600);
  for (const line of env.split('\n').filter((l) => l && !l.startsWith('#'))) {
    const [, value] = line.split('=');
    expect(value.length).toBeGreaterThanOrEqual(16);
    expect(compose).not.toContain(value);
  }
  const again = powerhouse('render', '--tier', 'minimum', '--compose', '--out', out);
  expect(again.stdout).toMatch(/kept .*\.env/);
  expect(fs.readFileSync(path.join(out, '.env'), 'utf8')).toBe(env);
});

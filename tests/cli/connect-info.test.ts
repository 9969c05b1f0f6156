// `powerhouse connect-info` reading a deployed stack's outputs as the real `terraform output -json` prints them:
// a Terraform configuration with the stack's connect_info and ingest_token outputs (values of the shape the
// Hetzner stack's expressions produce, tests/stacks/ingest-tls.test.ts evaluates those), applied by the real
// terraform binary offline (outputs need no provider), laid out where cdktf puts a stack.
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConnectInfo } from '../../config-templates';
import { makeTestCertificate } from '../harness/tls';

const ROOT = path.join(__dirname, '../..');
const TERRAFORM = spawnSync('terraform', ['version'], { encoding: 'utf8' }).status === 0;
if (!TERRAFORM) console.warn('terraform is absent: the connect-info --stack tests are SKIPPED');

let dir: string;
let pem: string;
let fingerprint: string;
const TOKEN = 'TokenFromTerraformOutput0123456789abcdef';

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('POWERHOUSE_')));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(ROOT, 'bin/powerhouse.js'), 'connect-info', ...args],
      { cwd: dir, env },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-connect-info-'));
  ({ pem, fingerprint } = makeTestCertificate(dir, 'tls', ['203.0.113.10']));
  if (!TERRAFORM) return;
  const stackDir = path.join(dir, 'cdktf.out', 'stacks', 'recommended');
  fs.mkdirSync(stackDir, { recursive: true });
  fs.writeFileSync(path.join(stackDir, 'cert.pem'), pem);
  fs.writeFileSync(
    path.join(stackDir, 'main.tf'),
    `output "connect_info" {
  value = jsonencode({ version = 1, endpoint = "https://203.0.113.10", certificatePem = file("\${path.module}/cert.pem"),
    fingerprintSha256 = "${fingerprint}", tables = ["tm_entries", "file_rows"] })
}
output "ingest_token" {
  value     = "${TOKEN}"
  sensitive = true
}
`,
  );
  for (const args of [
    ['init', '-input=false'],
    ['apply', '-auto-approve', '-input=false'],
  ]) {
    const t = spawnSync('terraform', args, {
      cwd: stackDir,
      encoding: 'utf8',
      env: { ...process.env, TF_IN_AUTOMATION: '1' },
    });
    if (t.status !== 0) throw new Error(`terraform ${args[0]}: ${t.stderr}`);
  }
}, 60_000);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

(TERRAFORM ? describe : describe.skip)('powerhouse connect-info --stack', () => {
  it('prints the endpoint, the pin and the tables, and how the SDK and CLI use them; never the token', async () => {
    const r = await cli(['--stack', 'recommended']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toContain('endpoint      https://203.0.113.10');
    expect(r.stdout).toContain(`certificate   self-signed; pin SHA-256 ${fingerprint}`);
    expect(r.stdout).toContain('tables        tm_entries, file_rows');
    expect(r.stdout).toContain(`{ fingerprint: '${fingerprint}' }`);
    expect(r.stdout).toContain(
      `powerhouse doctor --endpoint https://203.0.113.10 --fingerprint ${fingerprint}`,
    );
    expect(r.stdout).not.toContain(TOKEN);
  });

  it('--json is the connect info without a token; --with-token --out writes it 0600 with the default token', async () => {
    const r = await cli(['--stack', 'recommended', '--json']);
    const info = parseConnectInfo(JSON.parse(r.stdout));
    expect(info).toEqual({
      version: 1,
      endpoint: 'https://203.0.113.10',
      certificatePem: pem,
      fingerprintSha256: fingerprint,
      tables: ['tm_entries', 'file_rows'],
    });
    const out = path.join(dir, 'team.json');
    const w = await cli(['--stack', 'recommended', '--with-token', '--out', out]);
    expect([w.code, w.stdout]).toEqual([0, `wrote ${out} (0600: it holds a token)\n`]);
    expect((fs.statSync(out).mode & 0o777).toString(8)).toBe('600');
    expect(JSON.parse(fs.readFileSync(out, 'utf8'))).toEqual({ ...info, token: TOKEN, tokenName: 'default' });
    // A file holding a token is never overwritten.
    const again = await cli(['--stack', 'recommended', '--with-token', '--out', out]);
    expect([again.code, again.stderr]).toEqual([
      2,
      expect.stringContaining('exists: choose another --out file'),
    ]);
    // Nor by a file without one: it may be a translator's only copy of theirs.
    const plain = await cli(['--stack', 'recommended', '--out', out]);
    expect(plain.code).toBe(2);
    expect(JSON.parse(fs.readFileSync(out, 'utf8')).token).toBe(TOKEN);
  });

  it('reads a saved `terraform output -json`, and says what is wrong with other files', async () => {
    const saved = path.join(dir, 'outputs.json');
    const t = spawnSync('terraform', ['output', '-json'], {
      cwd: path.join(dir, 'cdktf.out/stacks/recommended'),
      encoding: 'utf8',
    });
    fs.writeFileSync(saved, t.stdout);
    const r = await cli(['--terraform-output', saved, '--json']);
    expect(JSON.parse(r.stdout).fingerprintSha256).toBe(fingerprint);

    fs.writeFileSync(path.join(dir, 'old.json'), JSON.stringify({ ingest_url: { value: 'https://x' } }));
    const old = await cli(['--terraform-output', path.join(dir, 'old.json')]);
    expect([old.code, old.stderr]).toEqual([2, expect.stringContaining('has no connect_info output')]);
    const missing = await cli(['--stack', 'nope']);
    expect([missing.code, missing.stderr]).toEqual([
      2,
      expect.stringContaining('deploy first (cdktf deploy nope)'),
    ]);
    const nothing = await cli([]);
    expect([nothing.code, nothing.stderr]).toEqual([
      2,
      expect.stringContaining('nothing to describe: start the local stack'),
    ]);
  });
});

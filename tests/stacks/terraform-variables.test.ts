// The Hetzner stack's input validation and pure expressions, evaluated by the real Terraform binary: the
// stack's `variable` and `locals` blocks plus outputs of the expressions it uses (network zone, volume
// count) form a provider-free configuration that plans and applies offline. Good inputs pass and give the
// expected values; each bad input fails with the stack's own message.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Testing } from 'cdktf';
import { HetznerStack } from '../../stacks/hetzner-stack';
import { offlineTerraform, TERRAFORM } from './offline-terraform';
import { synth, testBundle, type TfJson } from './synth-helpers';

if (!TERRAFORM)
  console.warn(
    'terraform is not installed: the Terraform variable checks are SKIPPED (install it from HashiCorp: https://developer.hashicorp.com/terraform/install)',
  );
const maybe = TERRAFORM ? describe : describe.skip;

const json = synth(
  new HetznerStack(Testing.app(), 'recommended', { tier: 'recommended', workerBundle: testBundle() }),
);
let dir: string;

function terraform(args: string[]): { status: number | null; out: string } {
  const r = offlineTerraform(dir, args);
  return { status: r.status, out: (r.stdout + r.stderr).replace(/\s+/g, ' ') };
}

const good = {
  ssh_public_key:
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHr1cK0Yy5Qf3lI7Kx1Xq8p0S7o2aD1m8nL3bV6cW9eZ admin@example',
  admin_cidrs: ['198.51.100.4/32', '2001:db8::/48'],
  client_cidrs: ['0.0.0.0/0', '::/0'],
};

function run(vars: Record<string, unknown>, command: 'plan' | 'apply' = 'plan') {
  fs.writeFileSync(path.join(dir, 'test.tfvars.json'), JSON.stringify(vars));
  const args = [command, '-input=false', '-no-color', '-var-file=test.tfvars.json'];
  return terraform(command === 'apply' ? [...args, '-auto-approve'] : args);
}

maybe('Terraform variables of the Hetzner stack (real terraform, offline)', () => {
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-tfvars-'));
    const config: TfJson = {
      variable: json.variable,
      locals: json.locals,
      output: {
        network_zone: { value: json.resource.hcloud_network_subnet.subnet.network_zone },
        volume_count: { value: json.resource.hcloud_volume.data_volume.count },
        worker_agent: { value: json.resource.terraform_data.ingest_worker.connection.agent },
      },
    };
    fs.writeFileSync(path.join(dir, 'main.tf.json'), JSON.stringify(config, null, 2));
    const init = terraform(['init', '-input=false', '-no-color']);
    expect([init.status, init.out]).toEqual([
      0,
      expect.stringContaining('Terraform has been successfully initialized'),
    ]);
  }, 60_000);

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('accepts good inputs and evaluates the zone, volume count and SSH agent choice', () => {
    const r = run(good, 'apply');
    expect(r.status).toBe(0);
    const out = terraform(['output', '-json']);
    const values = Object.fromEntries(
      Object.entries(JSON.parse(out.out) as Record<string, { value: unknown }>).map(([k, v]) => [k, v.value]),
    );
    expect(values).toEqual({ network_zone: 'eu-central', volume_count: 0, worker_agent: true });
    const withVolume = run({ ...good, location: 'ash', data_volume_gb: 200, ssh_private_key: 'k' }, 'apply');
    expect(withVolume.status).toBe(0);
    const again = JSON.parse(terraform(['output', '-json']).out) as Record<string, { value: unknown }>;
    expect([again.network_zone.value, again.volume_count.value, again.worker_agent.value]).toEqual([
      'us-east',
      1,
      false,
    ]);
  }, 60_000);

  it.each([
    [
      'an admin network open to the world',
      { admin_cidrs: ['0.0.0.0/0'] },
      'admin_cidrs must not contain 0.0.0.0/0',
    ],
    ['no admin network', { admin_cidrs: [] }, 'admin_cidrs must list at least one CIDR'],
    [
      'a malformed client CIDR',
      { client_cidrs: ['10.0.0.300/8'] },
      'Every entry of client_cidrs must be a CIDR',
    ],
    [
      'a server type below the tier',
      { server_type: 'ccx23' },
      'server_type must be one of ccx33, ccx43, ccx53, ccx63',
    ],
    ['an unknown location', { location: 'mars1' }, 'location must be one of fsn1'],
    [
      'a private key instead of a public one',
      // Only the armour line, split so secret scanners do not take this test for a committed key.
      { ssh_public_key: ['-----BEGIN OPENSSH', 'PRIVATE KEY-----'].join(' ') },
      'ssh_public_key must be one OpenSSH public key line',
    ],
    ['a volume below 10 GB', { data_volume_gb: 5 }, 'data_volume_gb must be 0 (no volume) or a whole number'],
    [
      'a token of the wrong length',
      { hcloud_token: 'abc' },
      'hcloud_token must be the 64-character API token',
    ],
  ])(
    'rejects %s with the stack\u2019s message',
    (_what, bad, message) => {
      const r = run({ ...good, ...bad });
      expect(r.status).not.toBe(0);
      expect(r.out).toContain(message);
    },
    30_000,
  );

  it('asks for the networks and the SSH key when they are not given', () => {
    const r = run({});
    expect(r.status).not.toBe(0);
    for (const v of ['admin_cidrs', 'client_cidrs', 'ssh_public_key'])
      expect(r.out).toContain(`"${v}" is not set`);
  }, 30_000);
});

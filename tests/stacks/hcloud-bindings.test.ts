// Checks the hand-written hcloud bindings against fixtures written from the provider's docs
// (tests/fixtures/hcloud/*.json): every synthesized argument name must be documented, carry the documented JSON
// type, and every documented argument must be reachable from the typed config. A misspelled argument fails.
import { Construct } from 'constructs';
import { TerraformOutput, TerraformResource, Testing } from 'cdktf';
import {
  Firewall,
  HcloudProvider,
  HCLOUD_PROVIDER,
  Network,
  NetworkSubnet,
  Server,
  SshKey,
  Volume,
  VolumeAttachment,
} from '../../stacks/hcloud';
import { allNames, checkArgs, fixture, presentNames } from './hcloud-fixture';

interface Synthesized {
  resource?: Record<string, Record<string, Record<string, unknown>>>;
  provider?: Record<string, Record<string, unknown>[]>;
  output?: Record<string, { value: string }>;
  terraform?: { required_providers?: Record<string, { source: string; version: string }> };
}

function synth(build: (scope: Construct) => void): Synthesized {
  return JSON.parse(Testing.synthScope((scope) => build(scope))) as Synthesized;
}

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Outputs for every getter the class itself declares, so their references can be read from the JSON. */
function outputGetters(scope: Construct, res: TerraformResource): string[] {
  const proto = Object.getPrototypeOf(res) as object;
  const getters = Object.entries(Object.getOwnPropertyDescriptors(proto))
    .filter(([, d]) => typeof d.get === 'function')
    .map(([name]) => name);
  for (const g of getters)
    new TerraformOutput(scope, `get_${g}`, { value: (res as unknown as Record<string, unknown>)[g] });
  return getters;
}

type Case = {
  fixture: string;
  /** Every argument set, with literal values of the documented types. */
  full: (scope: Construct) => TerraformResource;
  /** Only what is required. */
  minimal: (scope: Construct) => TerraformResource;
};

const labels = { app: 'powerhouse' };
const cases: Case[] = [
  {
    fixture: 'server',
    full: (s) =>
      new Server(s, 'r', {
        name: 'db-1',
        serverType: 'ccx33',
        image: 'ubuntu-24.04',
        location: 'fsn1',
        userData: '#cloud-config\n',
        sshKeys: ['key-1'],
        publicNet: [{ ipv4Enabled: true, ipv6Enabled: true, ipv4: 1, ipv6: 2 }],
        keepDisk: true,
        iso: 'iso-1',
        rescue: 'linux64',
        labels,
        backups: true,
        firewallIds: [7],
        ignoreRemoteFirewallIds: false,
        network: [{ networkId: 3, subnetId: '3-10.0.1.0/24', ip: '10.0.1.5', aliasIps: ['10.0.1.6'] }],
        placementGroupId: 4,
        deleteProtection: true,
        rebuildProtection: true,
        shutdownBeforeDeletion: true,
      }),
    minimal: (s) => new Server(s, 'r', { name: 'db-1', serverType: 'ccx23', image: 'debian-12' }),
  },
  {
    fixture: 'ssh_key',
    full: (s) => new SshKey(s, 'r', { name: 'admin', publicKey: 'ssh-ed25519 AAAA admin', labels }),
    minimal: (s) => new SshKey(s, 'r', { name: 'admin', publicKey: 'ssh-ed25519 AAAA admin' }),
  },
  {
    fixture: 'network',
    full: (s) =>
      new Network(s, 'r', {
        name: 'net',
        ipRange: '10.0.0.0/16',
        labels,
        deleteProtection: true,
        exposeRoutesToVswitch: false,
      }),
    minimal: (s) => new Network(s, 'r', { name: 'net', ipRange: '10.0.0.0/16' }),
  },
  {
    fixture: 'network_subnet',
    full: (s) =>
      new NetworkSubnet(s, 'r', {
        networkId: 3,
        type: 'vswitch',
        ipRange: '10.0.1.0/24',
        networkZone: 'eu-central',
        vswitchId: 9,
      }),
    minimal: (s) =>
      new NetworkSubnet(s, 'r', {
        networkId: 3,
        type: 'cloud',
        ipRange: '10.0.1.0/24',
        networkZone: 'eu-central',
      }),
  },
  {
    fixture: 'firewall',
    full: (s) =>
      new Firewall(s, 'r', {
        name: 'fw',
        labels,
        rule: [
          { direction: 'in', protocol: 'tcp', port: '22', sourceIps: ['192.0.2.0/24'], description: 'ssh' },
          { direction: 'out', protocol: 'udp', port: '53', destinationIps: ['0.0.0.0/0'] },
        ],
        applyTo: [{ labelSelector: 'app=powerhouse' }, { server: 12 }],
      }),
    minimal: (s) => new Firewall(s, 'r', { name: 'fw' }),
  },
  {
    fixture: 'volume',
    full: (s) =>
      new Volume(s, 'r', {
        name: 'data',
        size: 100,
        labels,
        serverId: 5,
        location: 'fsn1',
        automount: true,
        format: 'xfs',
        deleteProtection: true,
      }),
    minimal: (s) => new Volume(s, 'r', { name: 'data', size: 10 }),
  },
  {
    fixture: 'volume_attachment',
    full: (s) => new VolumeAttachment(s, 'r', { volumeId: 1, serverId: 2, automount: true }),
    minimal: (s) => new VolumeAttachment(s, 'r', { volumeId: 1, serverId: 2 }),
  },
];

describe.each(cases)('hcloud binding $fixture', (c) => {
  const fx = fixture(c.fixture);

  it('synthesizes every documented argument, with its documented JSON type, when all are set', () => {
    const json = synth((s) => void c.full(s));
    const args = json.resource?.[fx.resource]?.r;
    expect(args).toBeDefined();
    expect(checkArgs(args!, fx.arguments, fx.resource)).toEqual([]);
    expect(presentNames(args!).sort()).toEqual(allNames(fx.arguments).sort());
  });

  it('synthesizes only the required arguments from a minimal config', () => {
    const json = synth((s) => void c.minimal(s));
    const args = json.resource?.[fx.resource]?.r ?? {};
    expect(checkArgs(args, fx.arguments, fx.resource)).toEqual([]);
    const required = Object.entries(fx.arguments)
      .filter(([, s]) => s.required)
      .map(([k]) => k);
    expect(Object.keys(args).sort()).toEqual(required.sort());
  });

  it('reads documented attributes through its getters', () => {
    let getters: string[] = [];
    const json = synth((s) => {
      getters = outputGetters(s, c.minimal(s));
    });
    expect(getters).toContain('id');
    for (const g of getters) {
      const attr = snake(g);
      expect(fx.attributes).toHaveProperty(attr);
      expect(json.output?.[`get_${g}`]?.value).toBe(`\${${fx.resource}.r.${attr}}`);
    }
  });
});

describe('hcloud provider binding', () => {
  const fx = fixture('provider');

  it('declares the registry source and a 1.x constraint, and synthesizes documented arguments only', () => {
    const json = synth((s) => {
      new HcloudProvider(s, 'hcloud', {
        token: 't',
        endpoint: 'https://api.hetzner.cloud/v1',
        endpointHetzner: 'https://api.hetzner.com/v1',
        pollInterval: '1s',
        pollFunction: 'constant',
      });
    });
    expect(json.terraform?.required_providers?.hcloud).toEqual({
      source: 'hetznercloud/hcloud',
      version: HCLOUD_PROVIDER.versionConstraint,
    });
    expect(HCLOUD_PROVIDER.versionConstraint).toMatch(/^~> 1\.\d+$/);
    const args = json.provider?.hcloud?.[0] ?? {};
    expect(checkArgs(args, fx.arguments, 'provider.hcloud')).toEqual([]);
    expect(Object.keys(args).sort()).toEqual(Object.keys(fx.arguments).sort());
  });
});

describe('the fixture check itself', () => {
  const fx = fixture('server');
  it('reports a misspelled argument, a wrong type, a wrong nested name and a missing required argument', () => {
    const problems = checkArgs(
      { name: 'x', sever_type: 'ccx23', image: 'debian-12', backups: 'yes', network: [{ netwrok_id: 1 }] },
      fx.arguments,
      'hcloud_server',
    );
    expect(problems).toEqual([
      'hcloud_server.sever_type: not an argument in the provider docs',
      'hcloud_server.backups: expected bool, got "yes"',
      'hcloud_server.network[0].netwrok_id: not an argument in the provider docs',
      'hcloud_server.server_type: required but not synthesized',
    ]);
  });
});

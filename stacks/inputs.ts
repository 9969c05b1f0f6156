// Synth-time checks of a stack's inputs (the same rules the Terraform variables' validation blocks apply at
// plan time), so a bad default fails `cdktf synth` with a message that says what and where.
import net from 'node:net';
import { HETZNER_SERVER_TYPES, PRESET_TIERS, type PresetTierName } from '../config-templates';

export class StackInputError extends Error {
  override readonly name = 'StackInputError';
}

/** A CIDR such as 203.0.113.7/32 or 2001:db8::/48; null when valid, else what is wrong. */
export function cidrProblem(cidr: string): string | null {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr);
  if (!m) return 'is not address/prefix (e.g. 203.0.113.7/32)';
  const [, addr, bits] = m;
  const max = net.isIPv4(addr) ? 32 : net.isIPv6(addr) ? 128 : 0;
  if (max === 0) return `has no valid IPv4 or IPv6 address before the "/"`;
  if (Number(bits) > max) return `has prefix /${bits}, above /${max}`;
  return null;
}

export const WORLD_CIDRS = ['0.0.0.0/0', '::/0'] as const;

export function checkCidrs(cidrs: readonly string[], where: string, opts: { allowWorld: boolean }): void {
  if (cidrs.length === 0)
    throw new StackInputError(`${where}: give at least one CIDR, e.g. ["203.0.113.7/32"]`);
  cidrs.forEach((c, i) => {
    const p = cidrProblem(c);
    if (p) throw new StackInputError(`${where}[${i}] "${c}" ${p}`);
    if (!opts.allowWorld && (WORLD_CIDRS as readonly string[]).includes(c))
      throw new StackInputError(
        `${where}[${i}] "${c}" opens the port to the whole internet; give your admin networks`,
      );
  });
}

/** Hetzner locations with dedicated-vCPU (CCX) servers, and the network zone of each. */
export const HETZNER_LOCATIONS: Readonly<Record<string, string>> = {
  fsn1: 'eu-central',
  nbg1: 'eu-central',
  hel1: 'eu-central',
  ash: 'us-east',
  hil: 'us-west',
  sin: 'ap-southeast',
};

/** CCX types: the tiers' own plus the larger ones an override may pick. */
export const CCX_TYPES: readonly { name: string; cores: number; ramGiB: number }[] = [
  ...Object.values(HETZNER_SERVER_TYPES),
  { name: 'ccx53', cores: 32, ramGiB: 128 },
  { name: 'ccx63', cores: 48, ramGiB: 192 },
];

/**
 * Types a tier may run on: dedicated vCPUs with at least the tier's cores and RAM, since the rendered
 * configuration (shared_buffers, huge pages, pools) assumes that much hardware.
 */
export function serverTypesFor(tier: PresetTierName): string[] {
  const hw = PRESET_TIERS[tier].hardware;
  return CCX_TYPES.filter((t) => t.cores >= hw.cores && t.ramGiB * 1024 >= hw.ramMiB).map((t) => t.name);
}

/** Images whose own packages bring Node.js 20+ (the worker's runtime); see hetzner-stack.ts. */
export const SUPPORTED_IMAGES = ['debian-13'] as const;
export type SupportedImage = (typeof SUPPORTED_IMAGES)[number];

// hcloud_firewall (docs/resources/firewall.md)
import { Construct } from 'constructs';
import * as cdktf from 'cdktf';
import { HcloudResource } from './provider';

export interface FirewallRule {
  /** `direction` (required): `in` or `out`. */
  readonly direction: 'in' | 'out';
  /** `protocol` (required) */
  readonly protocol: 'tcp' | 'udp' | 'icmp' | 'gre' | 'esp';
  /** `port`: required for tcp/udp; a port, a range `80-85`, or `any`. */
  readonly port?: string;
  /** `source_ips`: CIDRs allowed, for direction `in`. */
  readonly sourceIps?: string[];
  /** `destination_ips`: CIDRs allowed, for direction `out`. */
  readonly destinationIps?: string[];
  /** `description` */
  readonly description?: string;
}

export interface FirewallApplyTo {
  /** `label_selector` (only one of label_selector and server per block) */
  readonly labelSelector?: string;
  /** `server` (int): a server id. */
  readonly server?: number;
}

export interface FirewallConfig extends cdktf.TerraformMetaArguments {
  /** `name`: the docs say optional, the provider's schema (internal/firewall/resource.go) requires it. */
  readonly name: string;
  /** `labels` */
  readonly labels?: Record<string, string>;
  /** `rule` blocks */
  readonly rule?: FirewallRule[];
  /** `apply_to` blocks */
  readonly applyTo?: FirewallApplyTo[];
}

function ruleToTerraform(r: FirewallRule): Record<string, unknown> {
  return {
    direction: cdktf.stringToTerraform(r.direction),
    protocol: cdktf.stringToTerraform(r.protocol),
    port: cdktf.stringToTerraform(r.port),
    source_ips: cdktf.listMapper(cdktf.stringToTerraform, false)(r.sourceIps),
    destination_ips: cdktf.listMapper(cdktf.stringToTerraform, false)(r.destinationIps),
    description: cdktf.stringToTerraform(r.description),
  };
}

function applyToToTerraform(a: FirewallApplyTo): Record<string, unknown> {
  return {
    label_selector: cdktf.stringToTerraform(a.labelSelector),
    server: cdktf.numberToTerraform(a.server),
  };
}

export class Firewall extends HcloudResource {
  public static readonly tfResourceType = 'hcloud_firewall';

  constructor(
    scope: Construct,
    id: string,
    private readonly config: FirewallConfig,
  ) {
    super(scope, id, Firewall.tfResourceType, config);
  }

  get id(): string {
    return this.getStringAttribute('id');
  }
  get name(): string {
    return this.getStringAttribute('name');
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    const c = this.config;
    return {
      name: cdktf.stringToTerraform(c.name),
      labels: cdktf.hashMapper(cdktf.stringToTerraform)(c.labels),
      rule: cdktf.listMapper(ruleToTerraform, true)(c.rule),
      apply_to: cdktf.listMapper(applyToToTerraform, true)(c.applyTo),
    };
  }
}

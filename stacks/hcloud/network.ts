// hcloud_network and hcloud_network_subnet (docs/resources/network.md, network_subnet.md)
import { Construct } from 'constructs';
import * as cdktf from 'cdktf';
import { HcloudResource } from './provider';

export interface NetworkConfig extends cdktf.TerraformMetaArguments {
  /** `name` (required) */
  readonly name: string;
  /** `ip_range` (required): an RFC 1918 range spanning all subnets. */
  readonly ipRange: string;
  /** `labels` */
  readonly labels?: Record<string, string>;
  /** `delete_protection` */
  readonly deleteProtection?: boolean;
  /** `expose_routes_to_vswitch` */
  readonly exposeRoutesToVswitch?: boolean;
}

export class Network extends HcloudResource {
  public static readonly tfResourceType = 'hcloud_network';

  constructor(
    scope: Construct,
    id: string,
    private readonly config: NetworkConfig,
  ) {
    super(scope, id, Network.tfResourceType, config);
  }

  /** The provider documents the id as an int; Terraform holds ids as strings and converts on use. */
  get id(): string {
    return this.getStringAttribute('id');
  }
  get ipRange(): string {
    return this.getStringAttribute('ip_range');
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    const c = this.config;
    return {
      name: cdktf.stringToTerraform(c.name),
      ip_range: cdktf.stringToTerraform(c.ipRange),
      labels: cdktf.hashMapper(cdktf.stringToTerraform)(c.labels),
      delete_protection: cdktf.booleanToTerraform(c.deleteProtection),
      expose_routes_to_vswitch: cdktf.booleanToTerraform(c.exposeRoutesToVswitch),
    };
  }
}

export interface NetworkSubnetConfig extends cdktf.TerraformMetaArguments {
  /** `network_id` (required, int). Pass `Token.asNumber(network.id)`. */
  readonly networkId: number;
  /** `type` (required) */
  readonly type: 'server' | 'cloud' | 'vswitch';
  /** `ip_range` (required): inside the network's range. */
  readonly ipRange: string;
  /** `network_zone` (required), e.g. `eu-central` for fsn1/nbg1/hel1. */
  readonly networkZone: string;
  /** `vswitch_id` (int): only for type `vswitch`. */
  readonly vswitchId?: number;
}

export class NetworkSubnet extends HcloudResource {
  public static readonly tfResourceType = 'hcloud_network_subnet';

  constructor(
    scope: Construct,
    id: string,
    private readonly config: NetworkSubnetConfig,
  ) {
    super(scope, id, NetworkSubnet.tfResourceType, config);
  }

  get id(): string {
    return this.getStringAttribute('id');
  }
  get ipRange(): string {
    return this.getStringAttribute('ip_range');
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    const c = this.config;
    return {
      network_id: cdktf.numberToTerraform(c.networkId),
      type: cdktf.stringToTerraform(c.type),
      ip_range: cdktf.stringToTerraform(c.ipRange),
      network_zone: cdktf.stringToTerraform(c.networkZone),
      vswitch_id: cdktf.numberToTerraform(c.vswitchId),
    };
  }
}

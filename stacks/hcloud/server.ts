// hcloud_server (docs/resources/server.md). Omitted: `datacenter` (removed from the API in v1.67) and
// `allow_deprecated_images` (documented as unused).
import { Construct } from 'constructs';
import * as cdktf from 'cdktf';
import { HcloudResource } from './provider';

export interface ServerPublicNet {
  /** `ipv4_enabled` */
  readonly ipv4Enabled?: boolean;
  /** `ipv6_enabled` */
  readonly ipv6Enabled?: boolean;
  /** `ipv4` (int): id of an existing primary IP. */
  readonly ipv4?: number;
  /** `ipv6` (int): id of an existing primary IP. */
  readonly ipv6?: number;
}

export interface ServerNetworkAttachment {
  /** `network_id` (int) */
  readonly networkId?: number;
  /** `subnet_id` (string): preferred over network_id alone. */
  readonly subnetId?: string;
  /** `ip`: fixed private IP. */
  readonly ip?: string;
  /** `alias_ips`: set `[]` explicitly (provider issue #650: otherwise re-attached on every apply). */
  readonly aliasIps?: string[];
}

export interface ServerConfig extends cdktf.TerraformMetaArguments {
  /** `name` (required): an RFC 1123 hostname. */
  readonly name: string;
  /** `server_type` (required), e.g. `ccx33`. */
  readonly serverType: string;
  /** `image` (required to create), e.g. `ubuntu-24.04`. */
  readonly image: string;
  /** `location`, e.g. `fsn1`. */
  readonly location?: string;
  /** `user_data`: cloud-init, at most 32 KiB. */
  readonly userData?: string;
  /** `ssh_keys`: ids or names. */
  readonly sshKeys?: string[];
  /** `public_net` blocks */
  readonly publicNet?: ServerPublicNet[];
  /** `keep_disk` */
  readonly keepDisk?: boolean;
  /** `iso` */
  readonly iso?: string;
  /** `rescue`: `linux64` or `linux32`. */
  readonly rescue?: string;
  /** `labels` */
  readonly labels?: Record<string, string>;
  /** `backups` */
  readonly backups?: boolean;
  /** `firewall_ids` (set of int) */
  readonly firewallIds?: number[];
  /** `ignore_remote_firewall_ids` */
  readonly ignoreRemoteFirewallIds?: boolean;
  /** `network` blocks */
  readonly network?: ServerNetworkAttachment[];
  /** `placement_group_id` (int) */
  readonly placementGroupId?: number;
  /** `delete_protection`: must equal rebuild_protection. */
  readonly deleteProtection?: boolean;
  /** `rebuild_protection`: must equal delete_protection. */
  readonly rebuildProtection?: boolean;
  /** `shutdown_before_deletion` */
  readonly shutdownBeforeDeletion?: boolean;
}

function publicNetToTerraform(p: ServerPublicNet): Record<string, unknown> {
  return {
    ipv4_enabled: cdktf.booleanToTerraform(p.ipv4Enabled),
    ipv6_enabled: cdktf.booleanToTerraform(p.ipv6Enabled),
    ipv4: cdktf.numberToTerraform(p.ipv4),
    ipv6: cdktf.numberToTerraform(p.ipv6),
  };
}

function networkToTerraform(n: ServerNetworkAttachment): Record<string, unknown> {
  return {
    network_id: cdktf.numberToTerraform(n.networkId),
    subnet_id: cdktf.stringToTerraform(n.subnetId),
    ip: cdktf.stringToTerraform(n.ip),
    alias_ips: cdktf.listMapper(cdktf.stringToTerraform, false)(n.aliasIps),
  };
}

export class Server extends HcloudResource {
  public static readonly tfResourceType = 'hcloud_server';

  constructor(
    scope: Construct,
    id: string,
    private readonly config: ServerConfig,
  ) {
    super(scope, id, Server.tfResourceType, config);
  }

  get id(): string {
    return this.getStringAttribute('id');
  }
  get name(): string {
    return this.getStringAttribute('name');
  }
  get serverType(): string {
    return this.getStringAttribute('server_type');
  }
  get location(): string {
    return this.getStringAttribute('location');
  }
  get ipv4Address(): string {
    return this.getStringAttribute('ipv4_address');
  }
  get ipv6Address(): string {
    return this.getStringAttribute('ipv6_address');
  }
  get ipv6Network(): string {
    return this.getStringAttribute('ipv6_network');
  }
  get status(): string {
    return this.getStringAttribute('status');
  }
  get primaryDiskSize(): number {
    return this.getNumberAttribute('primary_disk_size');
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    const c = this.config;
    return {
      name: cdktf.stringToTerraform(c.name),
      server_type: cdktf.stringToTerraform(c.serverType),
      image: cdktf.stringToTerraform(c.image),
      location: cdktf.stringToTerraform(c.location),
      user_data: cdktf.stringToTerraform(c.userData),
      ssh_keys: cdktf.listMapper(cdktf.stringToTerraform, false)(c.sshKeys),
      public_net: cdktf.listMapper(publicNetToTerraform, true)(c.publicNet),
      keep_disk: cdktf.booleanToTerraform(c.keepDisk),
      iso: cdktf.stringToTerraform(c.iso),
      rescue: cdktf.stringToTerraform(c.rescue),
      labels: cdktf.hashMapper(cdktf.stringToTerraform)(c.labels),
      backups: cdktf.booleanToTerraform(c.backups),
      firewall_ids: cdktf.listMapper(cdktf.numberToTerraform, false)(c.firewallIds),
      ignore_remote_firewall_ids: cdktf.booleanToTerraform(c.ignoreRemoteFirewallIds),
      network: cdktf.listMapper(networkToTerraform, true)(c.network),
      placement_group_id: cdktf.numberToTerraform(c.placementGroupId),
      delete_protection: cdktf.booleanToTerraform(c.deleteProtection),
      rebuild_protection: cdktf.booleanToTerraform(c.rebuildProtection),
      shutdown_before_deletion: cdktf.booleanToTerraform(c.shutdownBeforeDeletion),
    };
  }
}

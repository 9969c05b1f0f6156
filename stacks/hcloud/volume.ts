// hcloud_volume and hcloud_volume_attachment (docs/resources/volume.md, volume_attachment.md)
import { Construct } from 'constructs';
import * as cdktf from 'cdktf';
import { HcloudResource } from './provider';

export interface VolumeConfig extends cdktf.TerraformMetaArguments {
  /** `name` (required) */
  readonly name: string;
  /** `size` (required, int): GB. */
  readonly size: number;
  /** `labels` */
  readonly labels?: Record<string, string>;
  /** `server_id` (int): attach on creation; not together with `location`. */
  readonly serverId?: number;
  /** `location`: not together with `server_id`. */
  readonly location?: string;
  /** `automount`: needs `server_id`. */
  readonly automount?: boolean;
  /** `format`: `xfs` or `ext4`. */
  readonly format?: 'xfs' | 'ext4';
  /** `delete_protection` */
  readonly deleteProtection?: boolean;
}

export class Volume extends HcloudResource {
  public static readonly tfResourceType = 'hcloud_volume';

  constructor(
    scope: Construct,
    id: string,
    private readonly config: VolumeConfig,
  ) {
    super(scope, id, Volume.tfResourceType, config);
  }

  get id(): string {
    return this.getStringAttribute('id');
  }
  /** `linux_device`: e.g. /dev/disk/by-id/scsi-0HC_Volume_123. */
  get linuxDevice(): string {
    return this.getStringAttribute('linux_device');
  }
  get size(): number {
    return this.getNumberAttribute('size');
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    const c = this.config;
    return {
      name: cdktf.stringToTerraform(c.name),
      size: cdktf.numberToTerraform(c.size),
      labels: cdktf.hashMapper(cdktf.stringToTerraform)(c.labels),
      server_id: cdktf.numberToTerraform(c.serverId),
      location: cdktf.stringToTerraform(c.location),
      automount: cdktf.booleanToTerraform(c.automount),
      format: cdktf.stringToTerraform(c.format),
      delete_protection: cdktf.booleanToTerraform(c.deleteProtection),
    };
  }
}

export interface VolumeAttachmentConfig extends cdktf.TerraformMetaArguments {
  /** `volume_id` (required, int) */
  readonly volumeId: number;
  /** `server_id` (required, int) */
  readonly serverId: number;
  /** `automount` */
  readonly automount?: boolean;
}

export class VolumeAttachment extends HcloudResource {
  public static readonly tfResourceType = 'hcloud_volume_attachment';

  constructor(
    scope: Construct,
    id: string,
    private readonly config: VolumeAttachmentConfig,
  ) {
    super(scope, id, VolumeAttachment.tfResourceType, config);
  }

  get id(): string {
    return this.getStringAttribute('id');
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    const c = this.config;
    return {
      volume_id: cdktf.numberToTerraform(c.volumeId),
      server_id: cdktf.numberToTerraform(c.serverId),
      automount: cdktf.booleanToTerraform(c.automount),
    };
  }
}

// hcloud_ssh_key (docs/resources/ssh_key.md)
import { Construct } from 'constructs';
import * as cdktf from 'cdktf';
import { HcloudResource } from './provider';

export interface SshKeyConfig extends cdktf.TerraformMetaArguments {
  /** `name` (required) */
  readonly name: string;
  /** `public_key` (required): the OpenSSH public key line. */
  readonly publicKey: string;
  /** `labels` */
  readonly labels?: Record<string, string>;
}

export class SshKey extends HcloudResource {
  public static readonly tfResourceType = 'hcloud_ssh_key';

  constructor(
    scope: Construct,
    id: string,
    private readonly config: SshKeyConfig,
  ) {
    super(scope, id, SshKey.tfResourceType, config);
  }

  get id(): string {
    return this.getStringAttribute('id');
  }
  get name(): string {
    return this.getStringAttribute('name');
  }
  get fingerprint(): string {
    return this.getStringAttribute('fingerprint');
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    const c = this.config;
    return {
      name: cdktf.stringToTerraform(c.name),
      public_key: cdktf.stringToTerraform(c.publicKey),
      labels: cdktf.hashMapper(cdktf.stringToTerraform)(c.labels),
    };
  }
}

// Typed bindings for the Hetzner Cloud Terraform provider (hetznercloud/hcloud). No prebuilt package exists on
// npm, so these are written by hand from the provider's docs (docs/index.md, docs/resources/*.md, v1.68.0) and
// cover only what the stacks use. Argument names are the provider's, snake_case in the synthesized JSON.
import { Construct } from 'constructs';
import * as cdktf from 'cdktf';

/** Provider metadata shared by the provider and every resource. */
export const HCLOUD_PROVIDER = {
  source: 'hetznercloud/hcloud',
  /** Newest release when written: v1.68.0 (CHANGELOG, 2026-08). `~>` keeps us on 1.x, never 2.0. */
  versionConstraint: '~> 1.68',
} as const;

export const hcloudGeneratorMetadata: cdktf.TerraformProviderGeneratorMetadata = {
  providerName: 'hcloud',
  // Only the constraint: cdktf writes `providerVersion` (an exact pin) in preference when it is set.
  providerVersionConstraint: HCLOUD_PROVIDER.versionConstraint,
};

export interface HcloudProviderConfig {
  /** `token`: Hetzner Cloud API token (the provider also reads HCLOUD_TOKEN). Pass a sensitive variable. */
  readonly token?: string;
  /** `endpoint`: Cloud API endpoint override. */
  readonly endpoint?: string;
  /** `endpoint_hetzner`: Hetzner API endpoint override. */
  readonly endpointHetzner?: string;
  /** `poll_interval`, e.g. "500ms". */
  readonly pollInterval?: string;
  /** `poll_function`: `constant` or `exponential`. */
  readonly pollFunction?: 'constant' | 'exponential';
  readonly alias?: string;
}

export class HcloudProvider extends cdktf.TerraformProvider {
  public static readonly tfResourceType = 'hcloud';

  private _alias?: string;

  constructor(
    scope: Construct,
    id: string,
    private readonly config: HcloudProviderConfig = {},
  ) {
    super(scope, id, {
      terraformResourceType: 'hcloud',
      terraformGeneratorMetadata: hcloudGeneratorMetadata,
      terraformProviderSource: HCLOUD_PROVIDER.source,
    });
    this._alias = config.alias;
  }

  // TerraformProvider's own alias accessors are placeholders meant to be overridden.
  public override get alias(): string | undefined {
    return this._alias;
  }
  public override set alias(value: string | undefined) {
    this._alias = value;
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    const c = this.config;
    return {
      token: cdktf.stringToTerraform(c.token),
      endpoint: cdktf.stringToTerraform(c.endpoint),
      endpoint_hetzner: cdktf.stringToTerraform(c.endpointHetzner),
      poll_interval: cdktf.stringToTerraform(c.pollInterval),
      poll_function: cdktf.stringToTerraform(c.pollFunction),
      alias: cdktf.stringToTerraform(this._alias),
    };
  }

  protected override synthesizeHclAttributes(): Record<string, unknown> {
    throw hclUnsupported('hcloud provider');
  }
}

/** These bindings synthesize Terraform JSON (the project's durable artifact); `cdktf synth --hcl` is not supported. */
export function hclUnsupported(what: string): Error {
  return new Error(
    `${what}: the hand-written hcloud bindings synthesize Terraform JSON only; run synth without --hcl`,
  );
}

/** Base of the hcloud resources: provider metadata, meta-arguments passed through, JSON-only synthesis. */
export abstract class HcloudResource extends cdktf.TerraformResource {
  constructor(scope: Construct, id: string, type: string, meta: cdktf.TerraformMetaArguments) {
    super(scope, id, {
      terraformResourceType: type,
      terraformGeneratorMetadata: hcloudGeneratorMetadata,
      provider: meta.provider,
      dependsOn: meta.dependsOn,
      count: meta.count,
      lifecycle: meta.lifecycle,
      forEach: meta.forEach,
      provisioners: meta.provisioners,
      connection: meta.connection,
    });
  }

  protected override synthesizeHclAttributes(): Record<string, unknown> {
    throw hclUnsupported(this.terraformResourceType);
  }
}

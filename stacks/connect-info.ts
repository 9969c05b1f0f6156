// The stacks' `connect_info` output: everything a desktop app needs to reach the deployment, in the shape of
// config-templates/connect-info.ts (connectInfoSchema), as one JSON string (`terraform output -raw connect_info`).
// No token: the tokens stay separate sensitive outputs.
import { Fn } from 'cdktf';
import { CONNECT_INFO_VERSION } from '../config-templates';
import type { Deployment } from './deployment';
import { escapeTerraform } from './terraform-escape';

/** The names clients upload to (/v1/tables/{name}): the worker's allowlist, `name` or else `table`. */
export function clientTableNames(deployment: Pick<Deployment, 'workerConfig'>): string[] {
  return deployment.workerConfig.tables.map((t) => t.name ?? t.table);
}

export interface ConnectInfoFields {
  /** https://… on a host, http://127.0.0.1:PORT locally; may hold Terraform references. */
  readonly endpoint: string;
  /** References to the certificate and its fingerprint, exactly when the endpoint is https. */
  readonly certificatePem?: string;
  readonly fingerprintSha256?: string;
  readonly tables: readonly string[];
}

/** connect_info as Terraform's jsonencode() of the fields (references resolve at apply). */
export function connectInfoExpression(f: ConnectInfoFields): string {
  return Fn.jsonencode({
    version: CONNECT_INFO_VERSION,
    endpoint: f.endpoint,
    ...(f.certificatePem === undefined ? {} : { certificatePem: f.certificatePem }),
    ...(f.fingerprintSha256 === undefined ? {} : { fingerprintSha256: f.fingerprintSha256 }),
    tables: [...f.tables],
  });
}

/** connect_info when every field is known at synth time (the Docker stack): the JSON itself, escaped. */
export function connectInfoLiteral(
  f: Omit<ConnectInfoFields, 'certificatePem' | 'fingerprintSha256'>,
): string {
  return escapeTerraform(
    JSON.stringify({ version: CONNECT_INFO_VERSION, endpoint: f.endpoint, tables: [...f.tables] }),
  );
}

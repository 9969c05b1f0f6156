// The ingest certificate's fingerprint as Terraform computes it, for real: the synthesized expressions (the
// PEM body that local_file decodes, the OpenSSL-style formatting, connect_info's jsonencode) are evaluated by
// the real `terraform` binary on a certificate made by `openssl`, with the resources' attributes as variables.
// Between the two, local_file's part is done as hashicorp/local does it (internal/provider/resource_local_file.go:
// content_base64 is decoded with Go's base64.StdEncoding, content_sha256 is the hex SHA-256 of those bytes).
// The result must be what `openssl x509 -fingerprint -sha256` prints and what the SDK compares (fingerprint256).
import { createHash, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Testing } from 'cdktf';
import { FINGERPRINT_FORMAT, parseConnectInfo } from '../../config-templates';
import { HetznerStack, PRIVATE_NETWORK } from '../../stacks/hetzner-stack';
import { offlineTerraform, TERRAFORM } from './offline-terraform';
import { synth, testBundle, type TfJson } from './synth-helpers';

if (!TERRAFORM)
  console.warn(
    'terraform is not installed: the fingerprint expressions are NOT evaluated (install it from HashiCorp: https://developer.hashicorp.com/terraform/install)',
  );
const maybe = TERRAFORM ? describe : describe.skip;

const json = synth(
  new HetznerStack(Testing.app(), 'minimum', { tier: 'minimum', workerBundle: testBundle() }),
);
const SERVER_IPV4 = '203.0.113.10';

/** The resources' attributes the expressions read, as variables of a provider-free configuration. */
const ATTRIBUTES: Record<string, string> = {
  'tls_self_signed_cert.ingest_tls.cert_pem': 'var.cert_pem',
  'local_file.ingest_tls_certificate_der.content_sha256': 'var.der_sha256',
  'hcloud_server.server.ipv4_address': 'var.server_ipv4',
};
function asVariables(expr: string): string {
  let out = expr;
  for (const [ref, v] of Object.entries(ATTRIBUTES)) out = out.split(ref).join(v);
  const left = /\b(tls_\w+|local_file|hcloud_\w+|random_password)\.\w+/.exec(out);
  if (left) throw new Error(`unexpected reference ${left[0]} in ${expr}`);
  return out;
}

let dir: string;
const terraform = (args: string[]) => offlineTerraform(dir, args);
function evaluate(vars: Record<string, string>): Record<string, string> {
  fs.writeFileSync(path.join(dir, 'test.tfvars.json'), JSON.stringify(vars));
  const r = terraform(['apply', '-input=false', '-no-color', '-auto-approve', '-var-file=test.tfvars.json']);
  expect([r.status, r.stderr]).toEqual([0, '']);
  const out = JSON.parse(terraform(['output', '-json']).stdout) as Record<string, { value: string }>;
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.value]));
}

/** local_file with content_base64: Go's base64.StdEncoding (strict, padded) decoding, then hex SHA-256. */
function localFileSha256(contentBase64: string): { bytes: Buffer; sha256: string } {
  const bytes = Buffer.from(contentBase64, 'base64');
  // Node's decoder is lenient; Go's is not: only canonical standard base64 round-trips.
  expect(bytes.toString('base64')).toBe(contentBase64);
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

maybe("the ingest certificate's fingerprint, evaluated by the real terraform (offline)", () => {
  let certPem: string;
  let certDer: Buffer;
  let opensslFingerprint: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-tls-expr-'));
    // Like tls_self_signed_cert's: ECDSA P-256, the stack's addresses, CA:FALSE, digitalSignature + serverAuth.
    const crt = path.join(dir, 'ingest.crt');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=powerhouse-ingest',
      '-addext', `subjectAltName=IP:${SERVER_IPV4},IP:${PRIVATE_NETWORK.serverIp},IP:127.0.0.1`,
      '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'keyUsage=critical,digitalSignature',
      '-addext', 'extendedKeyUsage=serverAuth', '-keyout', path.join(dir, 'ingest.key'), '-out', crt,
    ], { stdio: 'ignore' }); // prettier-ignore
    certPem = fs.readFileSync(crt, 'utf8');
    certDer = execFileSync('openssl', ['x509', '-in', crt, '-outform', 'der']);
    opensslFingerprint = execFileSync('openssl', ['x509', '-in', crt, '-noout', '-fingerprint', '-sha256'], {
      encoding: 'utf8',
    })
      .trim()
      .replace(/^sha256 Fingerprint=/i, '');
    const config: TfJson = {
      variable: {
        cert_pem: { type: 'string' },
        der_sha256: { type: 'string', default: '' },
        server_ipv4: { type: 'string', default: SERVER_IPV4 },
      },
      output: {
        der_base64: {
          value: asVariables(json.resource.local_file.ingest_tls_certificate_der.content_base64),
        },
        fingerprint: { value: asVariables(json.output.tls_fingerprint_sha256.value) },
        connect_info: { value: asVariables(json.output.connect_info.value) },
      },
    };
    fs.writeFileSync(path.join(dir, 'main.tf.json'), JSON.stringify(config, null, 2));
    const init = terraform(['init', '-input=false', '-no-color']);
    expect([init.status, init.stdout]).toEqual([
      0,
      expect.stringContaining('Terraform has been successfully initialized'),
    ]);
  }, 60_000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("strips the PEM to its body: local_file's decoded bytes are the certificate's DER", () => {
    const { der_base64 } = evaluate({ cert_pem: certPem });
    expect(der_base64).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(localFileSha256(der_base64).bytes.equals(certDer)).toBe(true);
    // CRLF line ends (a PEM that went through Windows) give the same bytes.
    expect(evaluate({ cert_pem: certPem.replace(/\n/g, '\r\n') }).der_base64).toBe(der_base64);
  });

  it('formats the SHA-256 of the DER as openssl prints it, and as the SDK compares it', () => {
    const { der_base64 } = evaluate({ cert_pem: certPem });
    const { sha256 } = localFileSha256(der_base64);
    const { fingerprint } = evaluate({ cert_pem: certPem, der_sha256: sha256 });
    expect(fingerprint).toMatch(FINGERPRINT_FORMAT);
    expect(fingerprint).toBe(opensslFingerprint);
    expect(fingerprint).toBe(new X509Certificate(certPem).fingerprint256);
  });

  it('makes connect_info JSON that the connect-info schema accepts, with the certificate and its pin', () => {
    const { sha256 } = localFileSha256(evaluate({ cert_pem: certPem }).der_base64);
    const { connect_info, fingerprint } = evaluate({ cert_pem: certPem, der_sha256: sha256 });
    const info = parseConnectInfo(JSON.parse(connect_info), 'connect_info');
    expect(info).toEqual({
      version: 1,
      endpoint: `https://${SERVER_IPV4}`,
      certificatePem: certPem,
      fingerprintSha256: fingerprint,
      tables: ['tm_entries', 'file_rows'],
    });
    expect(new X509Certificate(info.certificatePem!).fingerprint256).toBe(info.fingerprintSha256);
  });
});

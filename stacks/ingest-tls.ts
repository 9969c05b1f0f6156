// The ingest endpoint's TLS key and self-signed certificate, made by Terraform (hashicorp/tls) so that the
// certificate and its SHA-256 fingerprint are stack outputs a desktop app pins (connect_info), instead of a
// command to run on the server. The key lives in Terraform's state like the random_password secrets: the
// synthesized JSON holds only the reference `tls_private_key.ingest_tls.private_key_pem`.
import { Construct } from 'constructs';
import { Fn } from 'cdktf';
import { File } from '@cdktf/provider-local/lib/file';
import { LocalProvider } from '@cdktf/provider-local/lib/provider';
import { PrivateKey } from '@cdktf/provider-tls/lib/private-key';
import { TlsProvider } from '@cdktf/provider-tls/lib/provider';
import { SelfSignedCert } from '@cdktf/provider-tls/lib/self-signed-cert';

/** Subject CN; Caddy's `default_sni` names it too (clients connect by IP, without SNI). */
export const INGEST_TLS_COMMON_NAME = 'powerhouse-ingest';
/**
 * 10 years. Clients pin this exact certificate (fingerprint) or trust it as their only CA (certificatePem), so a
 * new certificate means every client re-pins: it should change only when the server does. No public CA vouches
 * for it, so the CA/Browser Forum's lifetimes do not apply, and the SDK (Node.js/OpenSSL) sets no upper bound.
 * There is no early renewal: the provider replaces the certificate only once it has expired.
 */
export const INGEST_TLS_VALIDITY_HOURS = 10 * 365 * 24;
/** Key usage of a TLS server certificate with an ECDSA key: signatures, for server authentication only. */
export const INGEST_TLS_ALLOWED_USES = ['digital_signature', 'server_auth'] as const;
/** Where Terraform writes the certificate's DER (public; next to the stack's Terraform JSON) to hash it. */
export const INGEST_CERT_DER_FILE = '${path.module}/ingest-certificate.der';

/**
 * The PEM body (base64 of the DER) without the BEGIN/END lines and line breaks, as a Terraform expression.
 * Terraform has no function that hashes binary data (sha256() hashes a string's UTF-8 and base64decode()
 * accepts UTF-8 only), so local_file decodes this to bytes and reports their SHA-256 (content_sha256).
 */
export function pemBodyExpression(certPem: string): string {
  return Fn.replace(certPem, '/-----[A-Z ]+-----|[[:space:]]/', '');
}

/** A hex SHA-256 as FINGERPRINT_FORMAT (config-templates/connect-info.ts): upper-case pairs joined by ':'. */
export function fingerprintExpression(sha256Hex: string): string {
  return Fn.upper(Fn.join(':', Fn.regexall('..', sha256Hex)));
}

export interface IngestTlsProps {
  /** The addresses clients and the host reach the endpoint at: public IPv4, private IP, 127.0.0.1. */
  readonly ipAddresses: string[];
}

export class IngestTls extends Construct {
  readonly key: PrivateKey;
  readonly certificate: SelfSignedCert;
  readonly der: File;
  /** References for the provisioners and outputs. */
  readonly privateKeyPem: string;
  readonly certificatePem: string;
  /** SHA-256 of the certificate's DER as OpenSSL prints it (`openssl x509 -fingerprint -sha256`). */
  readonly fingerprintSha256: string;

  constructor(scope: Construct, id: string, props: IngestTlsProps) {
    super(scope, id);
    new TlsProvider(this, 'tls');
    new LocalProvider(this, 'local');
    this.key = new PrivateKey(this, 'key', { algorithm: 'ECDSA', ecdsaCurve: 'P256' });
    this.key.overrideLogicalId('ingest_tls');
    this.certificate = new SelfSignedCert(this, 'certificate', {
      privateKeyPem: this.key.privateKeyPem,
      subject: [{ commonName: INGEST_TLS_COMMON_NAME }],
      ipAddresses: props.ipAddresses,
      allowedUses: [...INGEST_TLS_ALLOWED_USES],
      validityPeriodHours: INGEST_TLS_VALIDITY_HOURS,
      // Explicitly none: an early renewal would replace the certificate, and so every client's pin, unasked.
      earlyRenewalHours: 0,
    });
    this.certificate.overrideLogicalId('ingest_tls');
    this.der = new File(this, 'der', {
      filename: INGEST_CERT_DER_FILE,
      contentBase64: pemBodyExpression(this.certificate.certPem),
      filePermission: '0644',
      directoryPermission: '0755',
    });
    this.der.overrideLogicalId('ingest_tls_certificate_der');
    this.privateKeyPem = this.key.privateKeyPem;
    this.certificatePem = this.certificate.certPem;
    this.fingerprintSha256 = fingerprintExpression(this.der.contentSha256);
  }
}

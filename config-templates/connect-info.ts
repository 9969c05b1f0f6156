// What a desktop app needs to reach a deployment, in one shape on every target: the endpoint, the certificate
// to pin when it is HTTPS (a self-signed one: no public CA can vouch for a server reached by IP), the tables it
// may write and, only in a file made for one translator, that translator's token. The Hetzner and Docker stacks
// output it (`connect_info`), `npm start` writes it to DATA_DIR/connect-info.json, `powerhouse connect-info`
// prints it or writes the file the app loads.
import { z } from 'zod';

export const CONNECT_INFO_VERSION = 1;

/** SHA-256 of a certificate's DER bytes as OpenSSL and browsers print it: 32 upper-case hex pairs joined by ':'. */
export const FINGERPRINT_FORMAT = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/;

/**
 * A fingerprint as people paste it → FINGERPRINT_FORMAT, or null when it is not 32 bytes of hex. Takes
 * `openssl x509 -fingerprint -sha256` output ("sha256 Fingerprint=AB:…"), "sha256:ab…", colons or none, any case.
 */
export function normalizeFingerprint(text: string): string | null {
  const hex = text
    .trim()
    .replace(/^sha-?256(\s+fingerprint)?\s*[=:]\s*/i, '')
    .replace(/[:\s]/g, '')
    .toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) return null;
  return hex.match(/../g)!.join(':');
}

export const connectInfoSchema = z
  .object({
    version: z.literal(CONNECT_INFO_VERSION),
    /** Base URL of the ingest worker (https://IP on a host, http://127.0.0.1:PORT locally). */
    endpoint: z.string().url(),
    /** The endpoint's certificate (PEM); present exactly when the endpoint is https. */
    certificatePem: z.string().includes('-----BEGIN CERTIFICATE-----').optional(),
    /** SHA-256 of that certificate (FINGERPRINT_FORMAT): what the SDK's `fingerprint` option pins. */
    fingerprintSha256: z.string().regex(FINGERPRINT_FORMAT).optional(),
    /** Client names of the tables uploads may go to (a token may be limited to some of them). */
    tables: z.array(z.string().min(1)),
    /** One translator's token and its name: only in a file written for that translator, never in a stack output. */
    token: z.string().min(1).optional(),
    tokenName: z.string().min(1).optional(),
  })
  .superRefine((c, ctx) => {
    const https = c.endpoint.startsWith('https:');
    if (https && !c.certificatePem && !c.fingerprintSha256)
      ctx.addIssue({
        code: 'custom',
        path: ['certificatePem'],
        message: 'an https endpoint needs its certificate or fingerprint to pin',
      });
    if (!https && (c.certificatePem || c.fingerprintSha256))
      ctx.addIssue({
        code: 'custom',
        path: ['endpoint'],
        message: 'a pinned certificate needs an https endpoint',
      });
  });
export type ConnectInfo = z.infer<typeof connectInfoSchema>;

/** Parses connect-info JSON (a file, a stack output); the error names every bad field. */
export function parseConnectInfo(input: unknown, source = 'connect info'): ConnectInfo {
  const r = connectInfoSchema.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new Error(`${source} is invalid:\n${lines.join('\n')}`);
}

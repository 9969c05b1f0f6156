// Which server certificate the SDK trusts. A deployed endpoint is reached by IP with a self-signed certificate,
// so the desktop app pins it: `fingerprint` (its SHA-256) or `ca` (its PEM, checked like a CA: chain, dates,
// address). The handshake is checked before the socket is handed to node:http, so no byte of the request (the
// token) is written to a server that failed the check, and a failed check is final: never retried, never
// downgraded. There is no option that turns checking off.
import { X509Certificate } from 'node:crypto';
import type http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { normalizeFingerprint } from '../../config-templates/connect-info';
import { UploadError } from './errors';

export interface TlsTrustOptions {
  /**
   * PEM of the endpoint's certificate (or of the CA that issued it), trusted instead of the system's CAs:
   * the chain, the dates and the address are checked as for any HTTPS site.
   */
  ca?: string | Buffer;
  /**
   * SHA-256 fingerprint of the endpoint's certificate (`AB:CD:…`, plain hex, or openssl's
   * "sha256 Fingerprint=…"): the server must present exactly this certificate (its dates and address are not
   * checked: the pin is the identity). Given with `ca`, the fingerprint decides and `ca` is not consulted.
   */
  fingerprint?: string;
}

/** The server's certificate was not the one trusted: nothing was sent. Not retried. */
export class CertificateTrustError extends UploadError {
  override name = 'CertificateTrustError';
  constructor(
    message: string,
    /** What the caller pinned (the `fingerprint`, or the `ca` certificate's own fingerprint), if anything. */
    readonly expected: string | undefined,
    /** SHA-256 of the certificate the server presented. */
    readonly presented: string | undefined,
    /** OpenSSL's or Node's reason (DEPTH_ZERO_SELF_SIGNED_CERT, ERR_TLS_CERT_ALTNAME_INVALID, …), if any. */
    readonly reason?: string,
  ) {
    super(message);
  }
}

export interface ResolvedTrust {
  ca?: string | Buffer;
  fingerprint?: string;
  /** Fingerprint of the `ca` certificate (for the message when another certificate is presented). */
  caFingerprint?: string;
}

/** Checks the options once per call: a malformed pin is a TypeError before any connection. */
export function resolveTrust(endpoint: URL, opts: TlsTrustOptions): ResolvedTrust | undefined {
  if (opts.ca === undefined && opts.fingerprint === undefined) return undefined;
  if (endpoint.protocol !== 'https:')
    throw new TypeError(
      `a pinned certificate (ca or fingerprint) needs an https:// endpoint, got ${endpoint.protocol}//${endpoint.host}`,
    );
  const out: ResolvedTrust = {};
  if (opts.fingerprint !== undefined) {
    const fp = normalizeFingerprint(opts.fingerprint);
    if (!fp)
      throw new TypeError(
        'fingerprint must be the SHA-256 of the certificate: 64 hex digits, with or without colons',
      );
    out.fingerprint = fp;
  }
  if (opts.ca !== undefined) {
    try {
      out.caFingerprint = new X509Certificate(opts.ca).fingerprint256;
    } catch {
      throw new TypeError('ca must be a PEM certificate (-----BEGIN CERTIFICATE----- …)');
    }
    out.ca = opts.ca;
  }
  return out;
}

/** Why the presented certificate is not trusted, or null. `socket` has finished its handshake. */
export function trustProblem(
  socket: tls.TLSSocket,
  trust: ResolvedTrust | undefined,
): CertificateTrustError | null {
  const presented = socket.getPeerCertificate()?.fingerprint256 || undefined;
  const where = `${socket.servername || socket.remoteAddress}:${socket.remotePort}`;
  if (trust?.fingerprint) {
    if (presented === trust.fingerprint) return null;
    return new CertificateTrustError(
      `certificate pin mismatch at ${where}: expected SHA-256 ${trust.fingerprint}, the server presented ${presented ?? 'no certificate'}. ` +
        'Nothing was sent. If the server was rebuilt, take the new fingerprint from its connect info (powerhouse connect-info); otherwise someone else answered.',
      trust.fingerprint,
      presented,
    );
  }
  if (socket.authorized) return null;
  const reason = String(socket.authorizationError ?? 'unknown');
  if (trust?.ca)
    return new CertificateTrustError(
      `certificate not trusted at ${where} (${reason}): expected the pinned certificate SHA-256 ${trust.caFingerprint}, the server presented ${presented}. Nothing was sent.`,
      trust.caFingerprint,
      presented,
      reason,
    );
  return new CertificateTrustError(
    `certificate not trusted at ${where} (${reason}); the server presented SHA-256 ${presented}. ` +
      "A deployed powerhouse endpoint has a self-signed certificate: pin it with the ca or fingerprint option (--ca / --fingerprint), taken from the stack's connect info, not from this message. Nothing was sent.",
    undefined,
    presented,
    reason,
  );
}

/**
 * An https agent for one exchange that hands node:http a socket only after trustProblem() found none.
 * Verification is done here rather than by rejectUnauthorized so that a failure can say which certificate
 * was expected and which was presented; the outcome is the same or stricter.
 */
export class TrustingAgent extends https.Agent {
  constructor(
    private readonly trust: ResolvedTrust | undefined,
    private readonly handshakeTimeoutMs: number,
  ) {
    super({ keepAlive: false, maxCachedSessions: 0 });
  }

  override createConnection(
    options: http.ClientRequestArgs & { servername?: string },
    callback?: (err: Error | null, stream: Duplex) => void,
  ): undefined {
    const host = options.host ?? 'localhost';
    const socket = tls.connect({
      host,
      port: Number(options.port ?? 443),
      servername: isIP(host) ? undefined : (options.servername ?? host),
      ca: this.trust?.ca,
      ALPNProtocols: ['http/1.1'],
      // Checked in trustProblem() before anything is written (see the class comment).
      rejectUnauthorized: false,
    });
    let done = false;
    const finish = (err: Error | null) => {
      if (done) return;
      done = true;
      socket.removeListener('error', finish);
      socket.setTimeout(0);
      if (err) {
        socket.destroy();
        callback?.(err, socket);
      } else callback?.(null, socket);
    };
    socket.once('error', finish);
    socket.setTimeout(this.handshakeTimeoutMs, () => {
      const err = Object.assign(new Error(`no TLS handshake within ${this.handshakeTimeoutMs} ms`), {
        code: 'ETIMEDOUT',
      });
      finish(err);
    });
    socket.once('secureConnect', () => finish(trustProblem(socket, this.trust)));
    return undefined;
  }
}

import { DATABASE, ROLES } from './names';
import type { BouncerClientTls, RenderOptions } from './render-options';
import { scramVerifier } from './scram';
import type { PgBouncerPool, Settings } from './settings';

function databaseLine(pool: PgBouncerPool, o: RenderOptions): string {
  const params = [
    `host=${o.pgHost}`,
    `port=${o.pgPort}`,
    `dbname=${DATABASE}`,
    `pool_mode=${pool.poolMode}`,
    `pool_size=${pool.poolSize.value}`,
    `reserve_pool=${pool.reservePool.value}`,
    `min_pool_size=${pool.minPoolSize.value}`,
  ];
  return `; ${pool.poolSize.reason}\n${pool.name} = ${params.join(' ')}`;
}

/** client_tls_* lines: TLS required on the client port. Nothing when TLS is off; server_tls_* is left alone. */
function clientTlsLines(tls: BouncerClientTls | undefined): string[] {
  if (!tls) return [];
  return [
    '; clients must use TLS, plaintext is refused: the port is open to the client networks and carries rows and logins',
    'client_tls_sslmode = require',
    "; PgBouncer's private key, readable by its user through the key's group (mode 0640)",
    `client_tls_key_file = ${tls.keyFile}`,
    '; the self-signed certificate clients pin: sslmode=verify-full (or verify-ca) with sslrootcert = this file',
    `client_tls_cert_file = ${tls.certFile}`,
    '; TLS 1.2 and 1.3 only, the same keyword in PgBouncer 1.18 and 1.25; 1.2 for desktops without TLS 1.3',
    'client_tls_protocols = secure',
    "; TLS 1.2 suites with forward secrecy only: 1.18's default 'fast' also allows static RSA; 1.21+ use OpenSSL's defaults",
    'client_tls_ciphers = secure',
  ];
}

export function renderPgBouncerIni(s: Settings, o: RenderOptions): string {
  const b = s.pgbouncer;
  const lines = [
    `; PgBouncer settings rendered by db-powerhouse for tier "${s.tier.name}". Edit the tier, not this file.`,
    '[databases]',
    databaseLine(b.app, o),
    databaseLine(b.ingest, o),
    '',
    '[pgbouncer]',
    `listen_addr = ${o.bouncerListen}`,
    `listen_port = ${o.bouncerPort}`,
    `unix_socket_dir = ${o.bouncer.unixSocketDir}`,
    '; SCRAM for every client; the auth_file holds SCRAM verifiers, never passwords',
    'auth_type = scram-sha-256',
    `auth_file = ${o.bouncer.authFile}`,
    `admin_users = ${ROLES.bouncerAdmin}`,
    `stats_users = ${ROLES.bouncerStats}`,
    ...clientTlsLines(o.bouncer.clientTls),
  ];
  if (o.bouncer.logFile) lines.push(`logfile = ${o.bouncer.logFile}`);
  if (o.bouncer.pidFile) lines.push(`pidfile = ${o.bouncer.pidFile}`);
  for (const [name, v] of Object.entries(b.global)) {
    lines.push(`; ${v.reason}`, `${name} = ${v.value}`);
  }
  return lines.join('\n') + '\n';
}

export interface BouncerUser {
  name: string;
  /** A plaintext password (hashed here) or an existing SCRAM verifier (kept as is). */
  password?: string;
  verifier?: string;
}

/** userlist.txt: one `"name" "SCRAM-SHA-256$…"` line per user; plaintext never written. */
export function renderUserlist(users: readonly BouncerUser[]): string {
  return (
    users
      .map((u) => {
        const secret = u.verifier ?? (u.password !== undefined ? scramVerifier(u.password) : undefined);
        if (!secret) throw new Error(`userlist: user "${u.name}" needs a password or a verifier`);
        return `"${u.name.replace(/"/g, '""')}" "${secret}"`;
      })
      .join('\n') + '\n'
  );
}

import { DATABASE, ROLES } from './names';
import type { RenderOptions } from './render-options';
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

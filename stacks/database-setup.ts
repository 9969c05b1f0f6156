// Roles, database and PgBouncer's userlist, shared by the Hetzner host and the local Docker stack.
// Passwords come from the environment (psql's \getenv), never from a command line or a file in this repo;
// PostgreSQL hashes them into SCRAM verifiers, and userlist.txt is exported from pg_authid, so PgBouncer
// holds the very verifiers PostgreSQL checks (SCRAM pass-through) and no plaintext.
import { DATABASE, ROLES, type RoleSettings } from '../config-templates';

/** Environment variable → psql variable: the passwords the setup needs. */
export const DB_PASSWORD_ENV = {
  superuser: 'POWERHOUSE_SUPERUSER_PASSWORD',
  app: 'POWERHOUSE_APP_PASSWORD',
  ingest: 'POWERHOUSE_INGEST_PASSWORD',
  bouncerAdmin: 'POWERHOUSE_BOUNCER_ADMIN_PASSWORD',
  bouncerStats: 'POWERHOUSE_BOUNCER_STATS_PASSWORD',
} as const satisfies Record<keyof typeof ROLES, string>;

/** Roles PgBouncer authenticates: the client-facing ones and its own console users. */
export const BOUNCER_USERS = [ROLES.app, ROLES.ingest, ROLES.bouncerAdmin, ROLES.bouncerStats] as const;

const q = (ident: string) => `"${ident.replace(/"/g, '""')}"`;
const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * psql script: idempotent (re-running resets the passwords to the environment's values). Per-role limits
 * come from Settings.roles (the app role's statement_timeout; none for the ingest role's long COPYs).
 */
export const rolesSql = (
  roles: RoleSettings,
): string => `-- db-powerhouse: roles and database. Run by psql as a superuser with the passwords in the environment.
\\set ON_ERROR_STOP on
-- Never log this session's statements: they carry passwords.
SET log_statement = 'none';
SET log_min_duration_statement = -1;
SET password_encryption = 'scram-sha-256';
\\getenv superuser_password ${DB_PASSWORD_ENV.superuser}
\\getenv app_password ${DB_PASSWORD_ENV.app}
\\getenv ingest_password ${DB_PASSWORD_ENV.ingest}
\\getenv bouncer_admin_password ${DB_PASSWORD_ENV.bouncerAdmin}
\\getenv bouncer_stats_password ${DB_PASSWORD_ENV.bouncerStats}
SELECT format('CREATE ROLE %I', r) FROM unnest(ARRAY[${BOUNCER_USERS.map(lit).join(', ')}]) AS r
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) \\gexec
ALTER ROLE ${q(ROLES.superuser)} PASSWORD :'superuser_password';
ALTER ROLE ${q(ROLES.app)} LOGIN PASSWORD :'app_password';
ALTER ROLE ${q(ROLES.app)} SET statement_timeout = ${lit(`${roles.app.statementTimeoutMs.value}ms`)};
ALTER ROLE ${q(ROLES.ingest)} LOGIN PASSWORD :'ingest_password';
ALTER ROLE ${q(ROLES.ingest)} SET statement_timeout = ${lit(`${roles.ingest.statementTimeoutMs.value}ms`)};
-- PgBouncer's console users exist only to get SCRAM verifiers; they cannot log in to PostgreSQL.
ALTER ROLE ${q(ROLES.bouncerAdmin)} NOLOGIN PASSWORD :'bouncer_admin_password';
ALTER ROLE ${q(ROLES.bouncerStats)} NOLOGIN PASSWORD :'bouncer_stats_password';
-- The app role owns the database, so the worker's migrations (run as the app role) may create schemas.
SELECT format('CREATE DATABASE %I OWNER %I', ${lit(DATABASE)}, ${lit(ROLES.app)})
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = ${lit(DATABASE)}) \\gexec
REVOKE ALL ON DATABASE ${q(DATABASE)} FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE ${q(DATABASE)} TO ${q(ROLES.app)}, ${q(ROLES.ingest)};
`;

/** psql -At script: userlist.txt lines from pg_authid (SCRAM verifiers only). */
export const USERLIST_SQL = `SELECT format('"%s" "%s"', replace(rolname, '"', '""'), rolpassword)
  FROM pg_authid
 WHERE rolname IN (${BOUNCER_USERS.map(lit).join(', ')}) AND rolpassword LIKE 'SCRAM-SHA-256$%'
 ORDER BY rolname;
`;

export interface DbSetupPaths {
  rolesSql: string;
  userlistSql: string;
}

/**
 * `powerhouse-db-setup USERLIST_FILE`: runs rolesSql() and writes the userlist atomically. psql connects
 * with the usual PG* environment (PGHOST, PGUSER, PGPASSWORD, ...). Fails with a clear message when a
 * password is missing or a verifier did not come back.
 */
export function dbSetupScript(paths: DbSetupPaths): string {
  const vars = Object.values(DB_PASSWORD_ENV);
  return `#!/bin/bash
# powerhouse-db-setup USERLIST_FILE: roles, database and PgBouncer's userlist (see stacks/database-setup.ts).
set -euo pipefail
out=\${1:?usage: powerhouse-db-setup USERLIST_FILE}
for v in ${vars.join(' ')}; do
  val=\${!v:-}
  if [ -z "$val" ]; then echo "powerhouse-db-setup: $v is not set" >&2; exit 1; fi
  if [ \${#val} -lt 16 ]; then echo "powerhouse-db-setup: $v is shorter than 16 characters" >&2; exit 1; fi
done
unset val
# One session: the roles script changes the superuser's password, which a second login would need.
psql -X -q -At -v ON_ERROR_STOP=1 -f ${paths.rolesSql} -f ${paths.userlistSql} > "$out.tmp"
n=$(grep -c '^"[^"]*" "SCRAM-SHA-256\\$' "$out.tmp" || true)
if [ "$n" -ne ${BOUNCER_USERS.length} ] || [ "$(wc -l < "$out.tmp")" -ne "$n" ]; then
  echo "powerhouse-db-setup: expected ${BOUNCER_USERS.length} SCRAM verifiers in pg_authid, got $n" >&2
  rm -f "$out.tmp"; exit 1
fi
chmod 0640 "$out.tmp"
mv "$out.tmp" "$out"
echo "powerhouse-db-setup: roles ready, $n verifiers in $out"
`;
}

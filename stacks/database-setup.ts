// Roles, database and PgBouncer's userlist for the Hetzner host and the local Docker stack: the psql rendering
// of config-templates/roles.ts (the local process stack runs the same steps over a pg client).
// Passwords come from the environment (psql's \getenv), never from a command line or a file in this repo;
// PostgreSQL hashes them into SCRAM verifiers, and userlist.txt is exported from pg_authid, so PgBouncer
// holds the very verifiers PostgreSQL checks (SCRAM pass-through) and no plaintext.
import {
  BOUNCER_ROLES,
  bootstrapSteps,
  quoteIdent,
  quoteLiteral,
  ROLE_PASSWORD,
  ROLES,
  SECRET_ENV,
  type BootstrapStep,
  type SecretName,
  type Settings,
} from '../config-templates';

/** Roles PgBouncer authenticates (their verifiers go into userlist.txt). */
export const BOUNCER_USERS = BOUNCER_ROLES.map((k) => ROLES[k]);

const passwordSecrets = (steps: readonly BootstrapStep[]): SecretName[] =>
  steps.flatMap((s) => (s.kind === 'password' ? [ROLE_PASSWORD[s.role]] : []));

/** The secrets the setup reads from the environment (as SECRET_ENV names), one per role password. */
export const dbSetupSecrets = (settings: Settings): SecretName[] => passwordSecrets(bootstrapSteps(settings));

/**
 * config-templates/roles.ts's bootstrap as a psql script: idempotent (re-running resets the passwords to the
 * environment's values), and the upgrade of a database made by an earlier version.
 */
export function rolesSql(settings: Settings): string {
  const steps = bootstrapSteps(settings);
  const lines = [
    '-- db-powerhouse: roles and database (config-templates/roles.ts). Run by psql as a superuser with the',
    '-- passwords in the environment.',
    '\\set ON_ERROR_STOP on',
    ...passwordSecrets(steps).map((n) => `\\getenv ${n} ${SECRET_ENV[n]}`),
  ];
  for (const step of steps) {
    if (step.kind === 'sql') lines.push(step.sql);
    else if (step.kind === 'password')
      lines.push(`ALTER ROLE ${quoteIdent(ROLES[step.role])} PASSWORD :'${ROLE_PASSWORD[step.role]}';`);
    else if (step.kind === 'create-database')
      lines.push(
        `SELECT format('CREATE DATABASE %I OWNER %I', ${quoteLiteral(step.database)}, ${quoteLiteral(step.owner)})`,
        ` WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = ${quoteLiteral(step.database)}) \\gexec`,
      );
    // psql's \connect takes the name as it is (DATABASE is a plain identifier).
    else lines.push(`\\connect ${step.database}`);
  }
  return lines.join('\n') + '\n';
}

/** psql -At script: userlist.txt lines from pg_authid (SCRAM verifiers only). */
export const USERLIST_SQL = `SELECT format('"%s" "%s"', replace(rolname, '"', '""'), rolpassword)
  FROM pg_authid
 WHERE rolname IN (${BOUNCER_USERS.map(quoteLiteral).join(', ')}) AND rolpassword LIKE 'SCRAM-SHA-256$%'
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
export function dbSetupScript(settings: Settings, paths: DbSetupPaths): string {
  const vars = dbSetupSecrets(settings).map((n) => SECRET_ENV[n]);
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

export interface DbSetupFile {
  readonly path: string;
  readonly content: string;
  readonly mode: string;
}

/** The role setup as the three files every target ships: the script and the two SQL files it runs. */
export function dbSetupFiles(settings: Settings, paths: DbSetupPaths & { script: string }): DbSetupFile[] {
  return [
    { path: paths.script, content: dbSetupScript(settings, paths), mode: '0755' },
    { path: paths.rolesSql, content: rolesSql(settings), mode: '0644' },
    { path: paths.userlistSql, content: USERLIST_SQL, mode: '0644' },
  ];
}

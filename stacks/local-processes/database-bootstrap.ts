// The local stack's runner of the role bootstrap (config-templates/roles.ts): the same steps the hosts and
// Docker run through psql (stacks/database-setup.ts), here over a pg client. Passwords are set as SCRAM
// verifiers fixed beforehand, so PgBouncer's userlist holds the very ones PostgreSQL checks.
import { Client } from 'pg';
import { quoteIdent, quoteLiteral, ROLES, type BootstrapStep, type RoleKey } from '../../config-templates';

/** Runs the steps as the superuser: first in the `postgres` database, then where a `connect` step says. */
export async function runBootstrap(
  superuserUrl: string,
  steps: readonly BootstrapStep[],
  /** Role → SCRAM verifier; a role without one keeps its password (the superuser's, set by initdb). */
  verifiers: Readonly<Partial<Record<RoleKey, string>>>,
): Promise<void> {
  const inDatabase = (name: string) => {
    const url = new URL(superuserUrl);
    url.pathname = `/${encodeURIComponent(name)}`;
    return url.toString();
  };
  let c = new Client({ connectionString: inDatabase('postgres') });
  await c.connect();
  try {
    for (const step of steps) {
      if (step.kind === 'sql') await c.query(step.sql);
      else if (step.kind === 'password') {
        const verifier = verifiers[step.role];
        if (verifier === undefined) {
          if (step.role === 'superuser') continue;
          throw new Error(`bootstrap: no SCRAM verifier for role ${ROLES[step.role]}`);
        }
        // Utility statements take no parameters; the verifier alphabet is [A-Za-z0-9+/=$:-], never logged.
        await c.query(`ALTER ROLE ${quoteIdent(ROLES[step.role])} PASSWORD ${quoteLiteral(verifier)}`);
      } else if (step.kind === 'create-database') {
        const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [step.database]);
        if (exists.rowCount === 0)
          await c.query(`CREATE DATABASE ${quoteIdent(step.database)} OWNER ${quoteIdent(step.owner)}`);
      } else {
        await c.end();
        c = new Client({ connectionString: inDatabase(step.database) });
        await c.connect();
      }
    }
  } finally {
    await c.end().catch(() => undefined);
  }
}

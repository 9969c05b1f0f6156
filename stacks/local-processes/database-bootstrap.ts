// The local stack's database and login roles, created over a superuser connection (idempotent). Hosts and
// Docker get the same from stacks/database-setup.ts as a psql script, since there PostgreSQL computes the
// verifiers; here they are fixed beforehand so PgBouncer's userlist can hold the same ones.
import { Client } from 'pg';
import { DATABASE, ROLES, type Settings } from '../../config-templates';

/** Database, roles (with the fixed SCRAM verifiers) and the app role's statement limit. Idempotent. */
export async function bootstrapDatabase(
  superuserUrl: string,
  /** Role → SCRAM verifier (the same ones PgBouncer's userlist holds, for SCRAM pass-through). */
  verifiers: Readonly<Record<string, string>>,
  settings: Settings,
): Promise<void> {
  const c = new Client({ connectionString: superuserUrl });
  await c.connect();
  try {
    const db = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (db.rowCount === 0) await c.query(`CREATE DATABASE "${DATABASE}"`);
    for (const role of [ROLES.app, ROLES.ingest]) {
      if (!verifiers[role]) throw new Error(`bootstrapDatabase: no SCRAM verifier for role ${role}`);
      const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      // A SCRAM verifier is not a secret password, but it is never logged either; literals only, no params
      // (utility statements take no parameters): the verifier alphabet is [A-Za-z0-9+/=$:-].
      const verb = exists.rowCount === 0 ? 'CREATE' : 'ALTER';
      await c.query(`${verb} ROLE "${role}" LOGIN PASSWORD '${verifiers[role]}'`);
    }
    await c.query(
      `ALTER ROLE "${ROLES.app}" SET statement_timeout = '${settings.roles.app.statementTimeoutMs.value}ms'`,
    );
    await c.query(
      `ALTER ROLE "${ROLES.ingest}" SET statement_timeout = '${settings.roles.ingest.statementTimeoutMs.value}ms'`,
    );
    await c.query(`GRANT CONNECT ON DATABASE "${DATABASE}" TO "${ROLES.app}", "${ROLES.ingest}"`);
  } finally {
    await c.end();
  }
}

// pgBackRest for PostgreSQL 16 on this machine: 2.46 or later (Debian 12's own 2.45 stops at PostgreSQL 15).
import { execFileSync } from 'node:child_process';
import { ActionableError } from '../local-processes/actionable-error';

export const PGBACKREST_ENV = 'POWERHOUSE_PGBACKREST';
/** Where .ci/install-pgbackrest unpacks Debian 13's build. */
export const UNPACKED_PGBACKREST = '/opt/pgbackrest/usr/bin/pgbackrest';
export const MIN_PGBACKREST = [2, 46] as const;

/** The version a pgBackRest binary reports, or null when it does not run. */
export function pgBackRestVersion(bin: string): [number, number] | null {
  try {
    const out = execFileSync(bin, ['version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const m = /pgBackRest (\d+)\.(\d+)/.exec(out);
    return m ? [Number(m[1]), Number(m[2])] : null;
  } catch {
    return null;
  }
}

const newEnough = (v: [number, number]) =>
  v[0] > MIN_PGBACKREST[0] || (v[0] === MIN_PGBACKREST[0] && v[1] >= MIN_PGBACKREST[1]);

/** $POWERHOUSE_PGBACKREST, /opt/pgbackrest, then PATH: the first that is 2.46+. Throws saying what was found. */
export function findPgBackRest(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = [env[PGBACKREST_ENV], UNPACKED_PGBACKREST, 'pgbackrest'].filter((c): c is string =>
    Boolean(c),
  );
  const seen: string[] = [];
  for (const bin of candidates) {
    const v = pgBackRestVersion(bin);
    if (v && newEnough(v)) return bin;
    seen.push(v ? `${bin} is ${v.join('.')}` : `${bin}: not found`);
  }
  throw new ActionableError(
    `no pgBackRest ${MIN_PGBACKREST.join('.')}+ for PostgreSQL 16 (${seen.join('; ')}): run .ci/install-pgbackrest ` +
      `(Debian 12) or install pgbackrest from apt.postgresql.org, or set ${PGBACKREST_ENV}`,
  );
}

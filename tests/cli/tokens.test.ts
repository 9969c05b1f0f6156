// Per-translator tokens as an admin uses them: `powerhouse token add|list|revoke` and `powerhouse uploads` as
// child processes against the real local stack (PostgreSQL 16, PgBouncer, the worker), the translator's
// `powerhouse upload --connect-info FILE` with the file `token add --out` wrote, and what PostgreSQL holds.
// Everything takes effect without restarting the worker (its pid is checked).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { customTier } from '../../config-templates';
import { startLocalStack, type LocalStack } from '../../stacks/local-processes/stack';
import { localDataDir } from '../../stacks/local-processes/data-dir';

jest.setTimeout(180_000);

const ROOT = path.join(__dirname, '../..');
let s: LocalStack;
let dataDir: string;
let work: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `powerhouse ARGS` with a clean environment: no token or endpoint from the caller's shell. */
function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('POWERHOUSE_')),
  ) as Record<string, string>;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(ROOT, 'bin/powerhouse.js'), ...args],
      { cwd: work, env: { ...base, ...env } },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}
const D = () => ['--data-dir', dataDir];

async function sql<R>(text: string, params: unknown[] = []): Promise<R[]> {
  const c = new Client({ connectionString: s.superuserUrl });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as R[];
  } finally {
    await c.end();
  }
}

function csv(name: string, rows: number, tag: string): string {
  const file = path.join(work, name);
  const lines = ['tm_id,source,target'];
  for (let i = 0; i < rows; i++) lines.push(`9,${tag}-${i},t${i}`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-tokens-'));
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-tokens-work-'));
  s = await startLocalStack({
    dataDir,
    tier: customTier({ cores: 2, ramMiB: 4096, disk: 'nvme' }, 4, 'detect'),
    ingestPort: 0,
    bouncerPort: 0,
    logLevel: 'warn',
  });
});

afterAll(async () => {
  await s?.stop();
  for (const d of [dataDir, work]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

describe('powerhouse token / uploads on the local stack', () => {
  let annaFile: string;
  let annaToken: string;

  it('the stack writes its connect info (0600, with its token) and `connect-info` describes it', async () => {
    const file = localDataDir(dataDir).connectInfo;
    expect((fs.statSync(file).mode & 0o777).toString(8)).toBe('600');
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({
      version: 1,
      endpoint: s.ingestUrl,
      tables: ['tm_entries', 'file_rows'],
      token: s.token,
      tokenName: 'default',
    });
    const r = await cli(['connect-info', ...D()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`endpoint      ${s.ingestUrl}`);
    expect(r.stdout).toContain('tables        tm_entries, file_rows');
    expect(r.stdout).not.toContain(s.token);
  });

  it('token add: shown once, only its SHA-256 stored, a connect-info file for the translator', async () => {
    annaFile = path.join(work, 'anna.json');
    const r = await cli(['token', 'add', 'anna', '--tables', 'tm_entries', '--out', annaFile, ...D()]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(
      /^token "anna" added \(tm_entries\); it works now, no restart\.\n {2}[A-Za-z0-9]{40}\n/,
    );
    annaToken = /\n {2}([A-Za-z0-9]{40})\n/.exec(r.stdout)![1];
    expect((fs.statSync(annaFile).mode & 0o777).toString(8)).toBe('600');
    expect(JSON.parse(fs.readFileSync(annaFile, 'utf8'))).toEqual({
      version: 1,
      endpoint: s.ingestUrl,
      tables: ['tm_entries'],
      token: annaToken,
      tokenName: 'anna',
    });
    const rows = await sql<{ token_id: string; sha256: Buffer; tables: string[] }>(
      'SELECT token_id, sha256, tables FROM powerhouse.tokens',
    );
    expect(rows).toEqual([
      { token_id: 'anna', sha256: createHash('sha256').update(annaToken).digest(), tables: ['tm_entries'] },
    ]);
    // The plain token is nowhere in the database or the worker's log.
    const dump = await sql<{ t: string }>(`SELECT string_agg(t::text, ' ') AS t FROM powerhouse.tokens t`);
    expect(dump[0].t).not.toContain(annaToken);
    expect(fs.readFileSync(localDataDir(dataDir).workerLog, 'utf8')).not.toContain(annaToken);
  });

  it("the translator uploads with the file; the token's tables bound it; the record names the token", async () => {
    const pid = s.workerPid;
    const ok = await cli([
      'upload',
      csv('a.csv', 250, 'anna'),
      '--table',
      'tm_entries',
      '--connect-info',
      annaFile,
    ]);
    expect([ok.code, ok.stderr]).toEqual([0, '']);
    expect(ok.stdout).toMatch(/^uploaded 250 rows/);
    const denied = await cli([
      'upload',
      csv('f.csv', 1, 'x'),
      '--table',
      'file_rows',
      '--connect-info',
      annaFile,
    ]);
    expect(denied.code).toBe(4);
    expect(denied.stderr).toContain('may not write table "file_rows" (403)');
    const rec = await sql<{ token_id: string; rows: string }>(
      "SELECT token_id, rows FROM powerhouse.uploads WHERE status = 'committed'",
    );
    expect(rec).toEqual([{ token_id: 'anna', rows: '250' }]);
    expect(s.workerPid).toBe(pid);
  });

  it('uploads --token --since lists who uploaded what', async () => {
    await cli(['upload', csv('d.csv', 3, 'default'), '--table', 'tm_entries', ...D()]);
    const r = await cli(['uploads', '--token', 'anna', '--since', '1h', '--json', ...D()]);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as { token: string; table: string; rows: number; status: string }[];
    expect(list.map((u) => [u.token, u.table, u.status, u.rows])).toEqual([
      ['anna', 'tm_entries', 'committed', 250],
    ]);
    const all = await cli(['uploads', ...D()]);
    expect(all.stdout.split('\n')[0]).toMatch(/^FINISHED\s+TOKEN\s+TABLE\s+STATUS\s+ROWS/);
    expect(all.stdout).toMatch(/\banna\s+tm_entries\s+committed\s+250\b/);
    expect(all.stdout).toMatch(/\bdefault\s+tm_entries\s+committed\s+3\b/);
    const future = await cli(['uploads', '--since', '2099-01-01T00:00:00Z', '--json', ...D()]);
    expect(JSON.parse(future.stdout)).toEqual([]);
    const bad = await cli(['uploads', '--since', 'yesterday', ...D()]);
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringContaining('--since must be a duration')]);
  });

  // Counts are of upload records: the 403 above was refused before an upload began, so it has none.
  it('token list shows config and made tokens with their uploads', async () => {
    const r = await cli(['token', 'list', '--json', ...D()]);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as { name: string; source: string; uploads: number; revokedAt: null }[];
    expect(list.map((t) => [t.name, t.source, t.uploads, t.revokedAt])).toEqual([
      ['default', 'config', 1, null],
      ['anna', 'admin', 1, null],
    ]);
    expect(r.stdout).not.toContain(annaToken);
  });

  it('a made token survives a worker restart (it is stored, not in memory)', async () => {
    await s.restartWorker('graceful');
    const ok = await cli([
      'upload',
      csv('b.csv', 5, 'anna2'),
      '--table',
      'tm_entries',
      '--connect-info',
      annaFile,
    ]);
    expect([ok.code, ok.stderr]).toEqual([0, '']);
  });

  it('token revoke: the next request is 401, without a restart; the name is not reused', async () => {
    const pid = s.workerPid;
    const r = await cli(['token', 'revoke', 'anna', ...D()]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/^token "anna" revoked at \d{4}-\d\d-\d\dT/);
    const refused = await cli([
      'upload',
      csv('c.csv', 5, 'late'),
      '--table',
      'tm_entries',
      '--connect-info',
      annaFile,
    ]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain('the token was refused (401)');
    expect(s.workerPid).toBe(pid);
    const again = await cli(['token', 'add', 'anna', ...D()]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/token_exists: token "anna" was revoked at .*names are not reused/);
    const list = JSON.parse((await cli(['token', 'list', '--json', ...D()])).stdout) as {
      name: string;
      revokedAt: string | null;
    }[];
    expect(list.find((t) => t.name === 'anna')?.revokedAt).toMatch(/^\d{4}-/);
  });

  it('refuses bad names, unknown tables, a missing admin token and an existing --out file, clearly', async () => {
    const name = await cli(['token', 'add', 'bad name!', ...D()]);
    expect([name.code, name.stderr]).toEqual([1, expect.stringContaining('token name: 1-64 characters')]);
    const table = await cli(['token', 'add', 'bob', '--tables', 'tm_entries,nope', ...D()]);
    expect(table.stderr).toContain('tables: "nope" not allowlisted (tables: tm_entries, file_rows)');
    const noAdmin = await cli(['token', 'list', '--endpoint', s.ingestUrl]);
    expect([noAdmin.code, noAdmin.stderr]).toEqual([
      2,
      expect.stringContaining('no admin token: set POWERHOUSE_ADMIN_TOKEN'),
    ]);
    const wrongAdmin = await cli(['token', 'list', '--endpoint', s.ingestUrl], {
      POWERHOUSE_ADMIN_TOKEN: s.token,
    });
    expect([wrongAdmin.code, wrongAdmin.stderr]).toEqual([1, expect.stringContaining('HTTP 403 forbidden')]);
    const exists = await cli(['token', 'add', 'carla', '--out', annaFile, ...D()]);
    expect([exists.code, exists.stderr]).toEqual([
      2,
      expect.stringContaining('exists: choose another --out file'),
    ]);
    const unknown = await cli(['token', 'revoke', 'nobody', ...D()]);
    expect([unknown.code, unknown.stderr]).toEqual([
      1,
      expect.stringContaining('unknown_token: no token named "nobody"'),
    ]);
    const rows = await sql<{ n: string }>('SELECT count(*) AS n FROM powerhouse.tokens');
    expect(rows[0].n).toBe('1');
  });

  it("token add --out to a path it cannot write fails before the token is made; a file's token beats $POWERHOUSE_INGEST_TOKEN", async () => {
    const before = (await sql<{ n: string }>('SELECT count(*) AS n FROM powerhouse.tokens'))[0].n;
    const r = await cli([
      'token',
      'add',
      'dora',
      '--out',
      path.join(work, 'no-such-dir', 'dora.json'),
      ...D(),
    ]);
    expect([r.code, r.stderr]).toEqual([2, expect.stringContaining('cannot write')]);
    expect(r.stdout).toBe('');
    expect((await sql<{ n: string }>('SELECT count(*) AS n FROM powerhouse.tokens'))[0].n).toBe(before);
    // The file given with --connect-info brings its token, whatever a stale variable says.
    const eve = path.join(work, 'eve.json');
    expect((await cli(['token', 'add', 'eve', '--out', eve, ...D()])).code).toBe(0);
    const up = await cli(['upload', csv('g.csv', 2, 'eve'), '--table', 'tm_entries', '--connect-info', eve], {
      POWERHOUSE_INGEST_TOKEN: 'stale-token-from-the-shell',
    });
    expect([up.code, up.stderr]).toEqual([0, '']);
    // A broken connect-info file is named, its content never quoted (it holds a token).
    const broken = path.join(work, 'broken.json');
    fs.writeFileSync(broken, '{"token": SecretTokenValue123}');
    const bad = await cli([
      'upload',
      csv('h.csv', 1, 'x'),
      '--table',
      'tm_entries',
      '--connect-info',
      broken,
    ]);
    expect([bad.code, bad.stderr]).toEqual([
      2,
      expect.stringMatching(/connect info .*broken\.json is not valid JSON\n$/),
    ]);
    expect(bad.stderr).not.toContain('SecretTokenValue123');
  });

  it("revoking the config's token refuses it too, and keeps it refused after a restart", async () => {
    const r = await cli(['token', 'revoke', 'default', ...D()]);
    expect(r.code).toBe(0);
    const refused = await cli(['upload', csv('e.csv', 1, 'x'), '--table', 'tm_entries', ...D()]);
    expect([refused.code, refused.stderr]).toEqual([4, expect.stringContaining('(401)')]);
    await s.restartWorker('graceful');
    const still = await cli(['upload', csv('e.csv', 1, 'x'), '--table', 'tm_entries', ...D()]);
    expect(still.code).toBe(4);
  });
});

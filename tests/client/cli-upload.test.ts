// `powerhouse upload` as a person or a script runs it: `node bin/powerhouse.js upload …` as a child process
// against the real local stack; what it prints, its exit code, and what PostgreSQL holds afterwards.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../stacks/local-processes/free-port';
import { startClientStack, type ClientStack } from './client-stack';

jest.setTimeout(120_000);

const ROOT = path.join(__dirname, '../..');
let s: ClientStack;
let dir: string;

beforeAll(async () => {
  s = await startClientStack('in-process');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-cli-upload-'));
});

afterAll(async () => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  await s?.stop();
});

beforeEach(async () => {
  await s.sql('TRUNCATE tm_entries');
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(ROOT, 'bin/powerhouse.js'), 'upload', ...args],
      { cwd: ROOT, env: { ...process.env, POWERHOUSE_INGEST_TOKEN: s.token, ...env } },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

async function count(): Promise<number> {
  const [{ n }] = await s.sql<{ n: string }>('SELECT count(*) AS n FROM tm_entries');
  return Number(n);
}

// Row 2 spans lines 3-5 (two quoted newlines), so row 3 starts on line 6: the message must say line 6.
const BAD_CSV =
  'tm_id,source,target,created_by\n' +
  '1,Hello,Hallo,ana\n' +
  '1,"Two\nlines","Zwei\nZeilen",ana\n' +
  'x1,Broken,Kaputt,ana\n' +
  '1,After,Danach,ana\n';

test('a CSV file: uploaded, summary on stdout, exit 0', async () => {
  const file = write(
    'good.csv',
    'tm_id,source,target,created_by\n1,"Say ""hi""",Sag „hallo“,ana\n2,"multi\nline",مرحبا 🙂,\n',
  );
  const r = await cli([file, '--table', 'tm_entries', '--endpoint', s.url]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^uploaded 2 rows \(.*\) from .*good\.csv to tm_entries in/);
  expect(r.stdout).toMatch(/upload id [0-9a-f-]{36}, idempotency key [0-9a-f-]{36}/);
  const rows = await s.sql('SELECT tm_id::int, source, target, created_by FROM tm_entries ORDER BY id');
  expect(rows).toEqual([
    { tm_id: 1, source: 'Say "hi"', target: 'Sag „hallo“', created_by: 'ana' },
    { tm_id: 2, source: 'multi\nline', target: 'مرحبا 🙂', created_by: null },
  ]);
});

test('one row: the summary says "1 row", singular, also when the same key replays it', async () => {
  const file = write('single.csv', 'tm_id,source,target\n1,One,Eins\n');
  const r = await cli([
    file,
    '--table',
    'tm_entries',
    '--endpoint',
    s.url,
    '--idempotency-key',
    'cli-one-row',
  ]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(
    /^uploaded 1 row \(\d+ B\) from .*single\.csv to tm_entries in [\d.]+ s \([\d,]+ rows\/s\)$/m,
  );
  const again = await cli([
    file,
    '--table',
    'tm_entries',
    '--endpoint',
    s.url,
    '--idempotency-key',
    'cli-one-row',
  ]);
  expect(again.code).toBe(0);
  expect(again.stdout).toMatch(/^already stored: 1 row of .*single\.csv was committed by an earlier attempt/);
  expect(await count()).toBe(1);
});

test.each(['local', 'server'])(
  'a bad row (--parse %s): exit 3, the message names row, column and file line; nothing stored',
  async (parse) => {
    const file = write(`bad-${parse}.csv`, BAD_CSV);
    const r = await cli([file, '--table', 'tm_entries', '--endpoint', s.url, '--parse', parse]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`bad row (row 3, column "tm_id", ${file} line 6)`);
    expect(r.stderr).toMatch(/nothing was stored/);
    expect(await count()).toBe(0);
  },
);

test('NDJSON with blank lines: the bad row is located by its line; exit 3', async () => {
  const file = write(
    'bad.ndjson',
    '{"tm_id":1,"source":"a","target":"b"}\n\n\n{"tm_id":1,"source":"c","target":"d"}\n{"tm_id":"one","source":"e","target":"f"}\n',
  );
  const r = await cli([file, '--table', 'tm_entries', '--endpoint', s.url]);
  expect(r.code).toBe(3);
  expect(r.stderr).toContain(`bad row (row 3, column "tm_id", ${file} line 5)`);
  expect(await count()).toBe(0);
});

test('--generate N --json: N generated TM rows stored, the result as JSON', async () => {
  const r = await cli(['--generate', '5000', '--table', 'tm_entries', '--endpoint', s.url, '--json']);
  expect(r.code).toBe(0);
  const result = JSON.parse(r.stdout);
  expect(result).toMatchObject({ table: 'tm_entries', rows: 5000, replayed: false, attempts: 1 });
  expect(await count()).toBe(5000);
  // Same seed and key again: the server replays; nothing is written twice.
  const again = await cli([
    '--generate',
    '5000',
    '--table',
    'tm_entries',
    '--endpoint',
    s.url,
    '--idempotency-key',
    result.idempotencyKey,
  ]);
  expect(again.code).toBe(0);
  expect(again.stdout).toMatch(/^already stored: 5,000 rows/);
  expect(await count()).toBe(5000);
});

test('a wrong token or an unknown table: exit 4 with a message saying which; the token is never printed', async () => {
  const file = write('one.csv', 'tm_id,source,target\n1,a,b\n');
  const badToken = await cli([file, '--table', 'tm_entries', '--endpoint', s.url], {
    POWERHOUSE_INGEST_TOKEN: 'wrong-token-value',
  });
  expect(badToken.code).toBe(4);
  expect(badToken.stderr).toMatch(/token was refused \(401\)/);
  expect(badToken.stderr).not.toContain('wrong-token-value');
  const unknown = await cli([file, '--table', 'no_such_table', '--endpoint', s.url]);
  expect(unknown.code).toBe(4);
  expect(unknown.stderr).toMatch(/table "no_such_table" is not in the ingest allowlist/);
});

test('nothing listening: exit 5 after --max-attempts, naming the key to run again with', async () => {
  const file = write('two.csv', 'tm_id,source,target\n1,a,b\n');
  const r = await cli([
    file,
    '--table',
    'tm_entries',
    '--endpoint',
    `http://127.0.0.1:${await freePort()}`,
    '--max-attempts',
    '2',
    '--idempotency-key',
    'cli-resume-1',
  ]);
  expect(r.code).toBe(5);
  expect(r.stderr).toMatch(/unavailable after 2 attempts .*ECONNREFUSED/);
  expect(r.stderr).toMatch(/retrying in [\d.]+ s \(attempt 2 of 2/);
  expect(r.stderr).toContain('run the same command again with --idempotency-key cli-resume-1');
});

test('usage errors exit 2: no token, no file, an unknown --format', async () => {
  const noToken = await cli(['--generate', '10', '--table', 'tm_entries'], { POWERHOUSE_INGEST_TOKEN: '' });
  expect(noToken.code).toBe(2);
  expect(noToken.stderr).toMatch(/no token: set POWERHOUSE_INGEST_TOKEN/);
  const noFile = await cli([path.join(dir, 'missing.csv'), '--table', 'tm_entries']);
  expect(noFile.code).toBe(2);
  expect(noFile.stderr).toMatch(/cannot read .*missing\.csv/);
  const badFormat = await cli(['x.csv', '--table', 'tm_entries', '--format', 'xlsx']);
  expect(badFormat.code).toBe(2);
});

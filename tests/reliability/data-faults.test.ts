// Faults that come with the data or the client: a client that vanishes at any byte of its request, tables
// that reject rows (trigger, foreign key, deferred constraints), and a disk that fills up mid-COPY. After each:
// a clear answer (when someone is still listening), nothing partial stored, no server connection leaked,
// and the pool back to idle.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { ensureServiceUser } from '../../stacks/local-processes/os-user';
import { INGEST_OPS_CONNECTIONS, ROLES } from '../../config-templates';
import {
  answered,
  getJson,
  rawChunkedUpload,
  sendAndVanish,
  sleep,
  upload,
  type Format,
} from './http-client';
import { countFile, fileRowsBody, fileRowsNdjson } from './file-rows';
import { startLiveStack, type LiveStack } from './live-stack';
import { PGCOPY_TRAILER } from './row-formats';

// Generous: the machine may be shared; no assertion depends on time.
jest.setTimeout(180_000);

const N = 4;
let live: LiveStack;
let nextFile = 5000;
const figures = { disconnects: 0, disconnectsByPoint: {} as Record<string, number>, rejected: 0 };

beforeAll(async () => {
  live = await startLiveStack({ users: N });
  await live.sql(`
    CREATE TABLE public.picky (id int PRIMARY KEY, val text NOT NULL);
    CREATE FUNCTION public.picky_check() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.val = 'poison' THEN RAISE EXCEPTION 'poison row % rejected by trigger', NEW.id; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER picky_check BEFORE INSERT ON public.picky FOR EACH ROW EXECUTE FUNCTION public.picky_check();

    CREATE TABLE public.parent (id int PRIMARY KEY);
    INSERT INTO public.parent VALUES (1), (2);
    CREATE TABLE public.child (id int PRIMARY KEY, parent int NOT NULL REFERENCES public.parent (id));

    CREATE TABLE public.late_unique (k text, CONSTRAINT late_unique_k UNIQUE (k) DEFERRABLE INITIALLY DEFERRED);

    CREATE TABLE public.commit_check (v int NOT NULL);
    CREATE FUNCTION public.commit_check_fn() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF (SELECT sum(v) FROM public.commit_check) > 100 THEN
        RAISE EXCEPTION 'the uploaded values add up to more than 100';
      END IF;
      RETURN NULL;
    END $$;
    CREATE CONSTRAINT TRIGGER commit_check_sum AFTER INSERT ON public.commit_check
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.commit_check_fn();

    GRANT INSERT ON public.picky, public.child, public.late_unique, public.commit_check TO ${ROLES.ingest};
    GRANT SELECT ON public.parent, public.commit_check TO ${ROLES.ingest};`);
  await live.reconfigureWorker((c) => ({
    ...c,
    tables: [
      ...c.tables,
      ...['picky', 'child', 'late_unique', 'commit_check'].map((table) => ({ schema: 'public', table })),
    ],
  }));
}, 120_000);

afterAll(async () => {
  await live?.stop();
  console.log(`data faults: ${JSON.stringify(figures)}`);
});

async function count(table: string): Promise<number> {
  const [r] = await live.sql<{ n: number }>(`SELECT count(*)::int AS n FROM public.${table}`);
  return r.n;
}

describe('a client that vanishes mid-request', () => {
  /** What the server should have recorded for the key: a failed upload, or nothing when the head was cut. */
  async function settle(key: string, headComplete: boolean): Promise<void> {
    if (headComplete) {
      // The worker noticed the disconnect and rolled back (the failed upload is on record for the key).
      const deadline = Date.now() + 15_000;
      for (;;) {
        const r = await getJson(live.url, `/v1/uploads?idempotencyKey=${key}`, live.token);
        if (r.status === 200 && r.body.state === 'failed') break;
        if (r.status === 200) expect(r.body.state).not.toBe('committed');
        if (Date.now() > deadline) throw new Error(`upload ${key} never ended as failed: ${r.text}`);
        await sleep(20);
      }
    }
    await live.waitQuiet();
  }

  const body = (format: Format, fileId: number) => fileRowsBody(format, fileId, 3000);

  /** Sends the raw request up to `cut` bytes and vanishes; then nothing may be stored or left busy. */
  async function vanishAt(point: string, format: Format, cut: (raw: Buffer, head: Buffer) => number) {
    const fileId = nextFile++;
    const key = `vanish-${fileId}`;
    const b = body(format, fileId);
    const req = rawChunkedUpload(live.url, 'file_rows', format, b.pieces, {
      token: live.token,
      key,
      columns: b.columns,
    });
    const raw = Buffer.concat([req.head, ...req.chunks, req.terminator]);
    const at = cut(raw, req.head);
    expect(at).toBeLessThan(raw.length);
    await sendAndVanish(live.url, raw.subarray(0, at));
    figures.disconnects++;
    figures.disconnectsByPoint[point] = (figures.disconnectsByPoint[point] ?? 0) + 1;
    await settle(key, at >= req.head.length);
    expect(await countFile(live, fileId)).toEqual({ rows: 0, distinct: 0 });
  }

  const formats: Format[] = ['ndjson', 'csv', 'tsv', 'pgcopy'];

  it.each(formats)(
    '%s: in the head, after the head, mid-row, mid-chunk, before the trailer',
    async (format) => {
      await vanishAt('in the request head', format, (_raw, head) => Math.floor(head.length / 2));
      await vanishAt('after the head', format, (_raw, head) => head.length);
      // Mid-row: whole chunks up to the middle of the body, then half of the next chunk's data (a row cut).
      await vanishAt('mid-row', format, (raw, head) => {
        const firstChunkEnd = raw.indexOf('\r\n', head.length) + 2; // after the size line of chunk 1
        return firstChunkEnd + 1000;
      });
      await vanishAt('mid-chunk (size line sent, data short)', format, (raw, head) => {
        const sizeLineEnd = raw.indexOf('\r\n', head.length) + 2;
        const size = parseInt(raw.subarray(head.length, sizeLineEnd - 2).toString('latin1'), 16);
        return sizeLineEnd + size - 1; // one byte short of the chunk
      });
      // All rows sent, then: pgcopy without its 0xFFFF trailer; other formats without the HTTP 0-chunk.
      await vanishAt('before the trailer', format, (raw) =>
        format === 'pgcopy' ? raw.length - 5 - (PGCOPY_TRAILER.length + 2 + 3) : raw.length - 5,
      );
    },
  );

  it('at random byte positions of random formats', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...formats), fc.double({ min: 0, max: 0.9999, noNaN: true }), (f, x) =>
        vanishAt('random byte', f, (raw) => Math.floor(x * (raw.length - 1))),
      ),
      { numRuns: 30 },
    );
  });

  it('leaves no server connection behind: the pool is idle, within its size, and serves the next upload', async () => {
    await live.waitQuiet();
    const pool = await live.ingestPool();
    expect(Number(pool.sv_active)).toBe(0);
    // The ingest entry holds one server connection per uploader plus the worker's ops connections, no more.
    const poolSize = N + INGEST_OPS_CONNECTIONS;
    expect(Number(pool.sv_idle) + Number(pool.sv_used) + Number(pool.sv_tested)).toBeLessThanOrEqual(
      poolSize,
    );
    const backends = await live.ingestBackends();
    expect(backends.length).toBeLessThanOrEqual(poolSize);
    expect(backends.filter((b) => b.state !== 'idle')).toEqual([]);
    const fileId = nextFile++;
    const ok = answered(
      await upload(live.url, 'file_rows', 'ndjson', fileRowsNdjson(fileId, 100), { token: live.token }),
    );
    expect(ok.status).toBe(201);
    expect(await countFile(live, fileId)).toEqual({ rows: 100, distinct: 100 });
  });
});

describe('a table that rejects rows', () => {
  it('a BEFORE trigger raising on row 3: 400 naming row 3 and the trigger message, nothing stored', async () => {
    const res = answered(
      await upload(live.url, 'picky', 'csv', 'id,val\r\n1,a\r\n2,b\r\n3,poison\r\n4,d\r\n', {
        token: live.token,
      }),
    );
    figures.rejected++;
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'bad_row', row: 3 });
    expect(String(res.body.message)).toMatch(/poison row 3 rejected by trigger/);
    expect(await count('picky')).toBe(0);
  });

  it('a foreign key violation (checked at the end of the COPY): 400 naming the constraint, nothing stored', async () => {
    const rows = Array.from({ length: 500 }, (_, i) => ({ id: i + 1, parent: i === 321 ? 99 : 1 + (i % 2) }));
    const res = answered(
      await upload(live.url, 'child', 'ndjson', rows.map((r) => JSON.stringify(r) + '\n').join(''), {
        token: live.token,
      }),
    );
    figures.rejected++;
    expect(res.status).toBe(400);
    expect(['bad_row', 'bad_request']).toContain(res.body.error);
    // PostgreSQL names the constraint; the key value only to roles that may SELECT the table (ingest may not).
    expect(String(res.body.message)).toMatch(/violates foreign key constraint "child_parent_fkey"/);
    expect(await count('child')).toBe(0);
  });

  it('a deferred unique constraint that fails at COMMIT: 400, nothing stored', async () => {
    const res = answered(await upload(live.url, 'late_unique', 'tsv', 'k\na\nb\na\n', { token: live.token }));
    figures.rejected++;
    expect(res.status).toBe(400);
    expect(String(res.body.message)).toMatch(/duplicate key/);
    expect(await count('late_unique')).toBe(0);
  });

  it('a deferred constraint trigger raising at COMMIT: a 4xx that says why, nothing stored', async () => {
    const res = answered(
      await upload(live.url, 'commit_check', 'ndjson', '{"v":60}\n{"v":50}\n', { token: live.token }),
    );
    figures.rejected++;
    expect(res.status).toBe(400);
    expect(String(res.body.message)).toMatch(/add up to more than 100/);
    expect(await count('commit_check')).toBe(0);
    const ok = answered(
      await upload(live.url, 'commit_check', 'ndjson', '{"v":60}\n', { token: live.token }),
    );
    expect(ok.status).toBe(201);
  });

  afterAll(() => live.waitQuiet());
});

// A tablespace on a 2 MiB tmpfs: COPY runs out of space for real while PostgreSQL's WAL and the other
// tables stay on the normal disk, so the server itself is never at risk. Needs root (mount).
const canMount =
  process.getuid?.() === 0 &&
  fs.existsSync('/proc/filesystems') &&
  fs.readFileSync('/proc/filesystems', 'utf8').includes('tmpfs');

if (!canMount)
  console.warn(
    'cannot mount a tmpfs (needs root and tmpfs in /proc/filesystems): the disk-full test is SKIPPED (run the tests as root, as .ci/run does)',
  );

(canMount ? describe : describe.skip)('the disk fills up mid-COPY', () => {
  let mountDir: string | undefined;

  afterAll(async () => {
    await live.sql('DROP TABLE IF EXISTS public.tiny_rows').catch(() => undefined);
    await live.sql('DROP TABLESPACE IF EXISTS tiny').catch(() => undefined);
    if (mountDir) {
      try {
        execFileSync('umount', ['-l', mountDir]);
      } finally {
        fs.rmSync(path.dirname(mountDir), { recursive: true, force: true });
      }
    }
  });

  it('answers 503 (retryable, says the disk is full), stores nothing, and the server keeps serving', async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-tiny-'));
    const dir = path.join(base, 'ts');
    fs.mkdirSync(dir);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', dir]);
    } catch (err) {
      fs.rmSync(base, { recursive: true, force: true });
      throw new Error(
        `cannot mount a tmpfs here (${(err as Error).message}): run as root with CAP_SYS_ADMIN`,
      );
    }
    mountDir = dir;
    const user = ensureServiceUser();
    fs.chmodSync(base, 0o711);
    fs.chownSync(dir, user.uid, user.gid);
    await live.sql(`CREATE TABLESPACE tiny LOCATION '${dir}'`);
    await live.sql(`CREATE TABLE public.tiny_rows (id int NOT NULL, payload text NOT NULL) TABLESPACE tiny;
                    GRANT INSERT ON public.tiny_rows TO ${ROLES.ingest};`);
    await live.reconfigureWorker((c) => ({
      ...c,
      tables: [...c.tables, { schema: 'public', table: 'tiny_rows' }],
    }));

    // ~4 MB of rows that stay inline in the heap (TOAST starts above ~2 KB).
    const pieces: string[] = [];
    for (let i = 0; i < 20; i++) {
      let p = '';
      for (let j = 0; j < 100; j++) p += `${i * 100 + j}\t${`${i}:${j}:`.padEnd(1900, 'x')}\n`;
      pieces.push(p);
    }
    const res = answered(
      await upload(live.url, 'tiny_rows', 'tsv', pieces, { token: live.token, columns: 'id,payload' }),
    );
    figures.rejected++;
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.body.message).toBe(
      'the database server is out of disk space (SQLSTATE 53100); nothing was stored, retry later with the same Idempotency-Key',
    );
    expect(await count('tiny_rows')).toBe(0);
    await live.waitQuiet();

    const fileId = nextFile++;
    const ok = answered(
      await upload(live.url, 'file_rows', 'ndjson', fileRowsNdjson(fileId, 100), { token: live.token }),
    );
    expect(ok.status).toBe(201);
  });
});

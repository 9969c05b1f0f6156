// Migration 4 (the default schema for concurrent writers) on a populated database of the previous version, as
// the owner role runs it on every target: no row lost or changed, ids kept, the identity continuing above them,
// the keys and indexes as designed, the lock it takes measured, and the query plans the desktop app relies on.
import { Pool } from 'pg';
import { KEY_ENTRY_BYTES } from '../../config-templates/plan';
import { MIGRATIONS, migrate } from '../../ingest/migrations';
import { stopAllTestServers } from '../harness';
import { startIngestStack, type IngestStack } from './stack';

jest.setTimeout(300_000);

const TM_ROWS = 400_000;
const FILE_ROWS = 100_000;
let stack: IngestStack;

/** Every row's content, ordered by id, as one md5: equal before and after means nothing was lost or changed. */
const FINGERPRINT = {
  tm: `SELECT count(*)::int AS n, max(id)::text AS max, md5(string_agg(concat_ws('|', id, tm_id, source, target, created_by, created_at), ',' ORDER BY id)) AS md5 FROM tm_entries`,
  file: `SELECT count(*)::int AS n, max(id)::text AS max, md5(string_agg(concat_ws('|', id, file_id, row_num, source, target, metadata, created_at), ',' ORDER BY id)) AS md5 FROM file_rows`,
};

async function plan(sql: string): Promise<string> {
  const rows = await stack.sql<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${sql}`);
  return rows.map((r) => r['QUERY PLAN']).join('\n');
}

let before: Record<'tm' | 'file', { n: number; max: string; md5: string }>;
let migrateMs: number;

beforeAll(async () => {
  stack = await startIngestStack();
  const owner = new Pool({ connectionString: stack.ownerUrl, max: 1 });
  try {
    // The previous version's schema, as deployments have it, filled by many "uploads" (tm_ids interleaved).
    await migrate(owner, { migrations: MIGRATIONS.filter((m) => m.version < 4) });
    await stack.sql(
      `INSERT INTO tm_entries (tm_id, source, target, created_by)
         SELECT i % 40, 'source ' || i || repeat('x', i % 50), 'target ' || i, CASE WHEN i % 100 = 0 THEN NULL ELSE 'user' || (i % 40) END
           FROM generate_series(1, ${TM_ROWS}) AS i`,
      [],
      stack.ownerUrl,
    );
    await stack.sql(
      `INSERT INTO file_rows (file_id, row_num, source, target, metadata)
         SELECT i % 10, i / 10, 's' || i, 't' || i, CASE WHEN i % 7 = 0 THEN jsonb_build_object('k', i) END
           FROM generate_series(1, ${FILE_ROWS}) AS i`,
      [],
      stack.ownerUrl,
    );
    await stack.sql('ANALYZE tm_entries; ANALYZE file_rows');
    before = {
      tm: (await stack.sql<{ n: number; max: string; md5: string }>(FINGERPRINT.tm))[0],
      file: (await stack.sql<{ n: number; max: string; md5: string }>(FINGERPRINT.file))[0],
    };
    const t0 = performance.now();
    const r = await migrate(owner);
    migrateMs = performance.now() - t0;
    expect(r.applied).toEqual([4, 5]); // 5 only adds a column with a constant default to powerhouse.uploads
    await stack.sql('ANALYZE tm_entries; ANALYZE file_rows');
  } finally {
    await owner.end();
  }
});

afterAll(stopAllTestServers);

describe('migration 4 on a populated database', () => {
  it('keeps every row and id exactly', async () => {
    expect((await stack.sql(FINGERPRINT.tm))[0]).toEqual(before.tm);
    expect((await stack.sql(FINGERPRINT.file))[0]).toEqual(before.file);
    expect(before.tm.n).toBe(TM_ROWS);
    console.log(
      `migration 4: ${TM_ROWS} tm_entries + ${FILE_ROWS} file_rows rows in ${Math.round(migrateMs)} ms ` +
        `(${(((migrateMs / (TM_ROWS + FILE_ROWS)) * 1e6) / 1000).toFixed(2)} s per million rows under ACCESS EXCLUSIVE)`,
    );
  });

  it('has one key per table, led by tm_id / file_id, and the identity hands out 128 ids per session', async () => {
    const idx = await stack.sql<{ table: string; index: string; def: string }>(
      `SELECT tablename AS table, indexname AS index, indexdef AS def FROM pg_indexes
        WHERE schemaname = 'public' AND tablename IN ('tm_entries', 'file_rows') ORDER BY 1, 2`,
    );
    expect(idx.map((i) => [i.table, i.index, i.def.replace(/^.* USING /, '')])).toEqual([
      ['file_rows', 'file_rows_pkey', 'btree (file_id, row_num, id)'],
      ['tm_entries', 'tm_entries_pkey', 'btree (tm_id, id)'],
    ]);
    const seq = await stack.sql<{ cache: string }>(
      `SELECT seqcache::text AS cache FROM pg_sequence WHERE seqrelid IN (pg_get_serial_sequence('tm_entries', 'id')::regclass, pg_get_serial_sequence('file_rows', 'id')::regclass)`,
    );
    expect(seq).toEqual([{ cache: '128' }, { cache: '128' }]);
  });

  it('takes about the key size powerhouse plan assumes per row', async () => {
    const [k] = await stack.sql<{ bytes: string }>(
      `SELECT pg_relation_size('tm_entries_pkey')::text AS bytes`,
    );
    const perRow = Number(k.bytes) / TM_ROWS;
    console.log(
      `tm_entries_pkey: ${perRow.toFixed(1)} B per row (plan assumes ${KEY_ENTRY_BYTES.toFixed(1)})`,
    );
    expect(perRow / KEY_ENTRY_BYTES).toBeGreaterThan(0.8);
    expect(perRow / KEY_ENTRY_BYTES).toBeLessThan(1.25);
  });

  it('continues the identity above the kept ids, and ids stay unique', async () => {
    const [row] = await stack.sql<{ id: string }>(
      `INSERT INTO tm_entries (tm_id, source, target) VALUES (1, 'after', 'migration') RETURNING id::text`,
      [],
      stack.ownerUrl,
    );
    expect(BigInt(row.id)).toBeGreaterThan(BigInt(before.tm.max));
    const [dups] = await stack.sql<{ n: number }>(
      'SELECT count(*)::int AS n FROM (SELECT id FROM tm_entries GROUP BY id HAVING count(*) > 1) d',
    );
    expect(dups.n).toBe(0);
  });

  it('serves the reads the desktop app makes from the key (plans)', async () => {
    const byTm = await plan('SELECT * FROM tm_entries WHERE tm_id = 7');
    const sync = await plan(
      'SELECT * FROM tm_entries WHERE tm_id = 7 AND id > 390000 ORDER BY id LIMIT 1000',
    );
    const byFile = await plan('SELECT * FROM file_rows WHERE file_id = 3 ORDER BY row_num');
    console.log(`plans after migration 4:\n--- by tm_id\n${byTm}\n--- sync\n${sync}\n--- by file\n${byFile}`);
    // The planner picks an index or bitmap scan by the row count; either way through the key, never the table.
    for (const p of [byTm, sync, byFile]) expect(p).not.toMatch(/Seq Scan/);
    expect(byTm).toMatch(/Index Cond: \(tm_id = 7\)/);
    expect(sync).toMatch(/on tm_entries_pkey[\s\S]*Index Cond: \(\(tm_id = 7\) AND \(id > 390000\)\)/);
    expect(byFile).toMatch(/on file_rows_pkey[\s\S]*Index Cond: \(file_id = 3\)/);
  });
});

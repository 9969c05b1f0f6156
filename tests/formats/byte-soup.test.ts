// Hostile input: random bytes and randomly damaged valid bodies, in random chunkings, for every format.
// Whatever comes in, the encoder either fails with RowError / LimitError / BadRequestError (a row number
// >= 1 and a real column when it names one) or succeeds with output that is a well-formed COPY stream.
import fc from 'fast-check';
import { BadRequestError, LimitError, RowError, encodePgCopy } from '../../ingest/formats';
import { OID, TM_COLUMNS, col } from './helpers/columns';
import { decodeBinaryCopy, decodeTextCopy } from './helpers/copy-decode';
import { runEncoder, splitRandom } from './helpers/run-encoder';

const TABLE = [...TM_COLUMNS, col('meta', 'jsonb', OID.jsonb), col('n', 'integer', OID.int4)];
const NAMES = new Set(TABLE.map((c) => c.name));
const DECODE = {
  tm_id: 'int8',
  source: 'text',
  target: 'text',
  created_by: 'text',
  created_at: 'timestamptz',
  meta: 'jsonb',
  n: 'int4',
} as const;

const valid: Record<string, Buffer> = {
  ndjson: Buffer.from(
    '{"tm_id": 1, "source": "a\\tb", "target": "c", "meta": {"k": [1, "é"]}, "n": 5}\n{"tm_id": "2", "source": "x", "target": "😀", "meta": null, "n": null}\n',
  ),
  csv: Buffer.from(
    'tm_id,source,target,meta,created_at\r\n1,"a,""b""","c\nd","{""k"": 1}",2024-01-01T00:00:00Z\r\n2,,"",,\r\n',
  ),
  tsv: Buffer.from('tm_id\tsource\ttarget\tn\n1\ta\\tb\tc\t5\n2\t\\N\t😀\t\\N\n'),
  pgcopy: Buffer.concat([
    ...encodePgCopy(TM_COLUMNS.slice(0, 3), [
      [1n, 'a', 'b'],
      [2n, 'é', null],
    ]),
  ]),
};
const requested: Record<string, string[] | undefined> = { pgcopy: ['tm_id', 'source', 'target'] };

const damage = fc.array(
  fc.record({
    at: fc.nat(),
    kind: fc.constantFrom('flip', 'insert', 'delete', 'truncate'),
    byte: fc.integer({ min: 0, max: 255 }),
  }),
  { minLength: 1, maxLength: 4 },
);

function applyDamage(body: Buffer, edits: { at: number; kind: string; byte: number }[]): Buffer {
  let b = Buffer.from(body);
  for (const e of edits) {
    const at = b.length === 0 ? 0 : e.at % b.length;
    if (e.kind === 'flip') b[at] = e.byte;
    else if (e.kind === 'insert')
      b = Buffer.concat([b.subarray(0, at), Buffer.from([e.byte]), b.subarray(at)]);
    else if (e.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
    else b = b.subarray(0, at);
  }
  return b;
}

async function check(format: 'ndjson' | 'csv' | 'tsv' | 'pgcopy', body: Buffer, seed: number): Promise<void> {
  const r = await runEncoder(
    { format, tableColumns: TABLE, requestedColumns: requested[format], maxFieldBytes: 64, chunkBytes: 128 },
    splitRandom(body, seed, 1 + (seed % 50)),
  );
  if (r.error) {
    const ok =
      r.error instanceof RowError || r.error instanceof LimitError || r.error instanceof BadRequestError;
    if (!ok) throw new Error(`unexpected ${r.error.name}: ${r.error.message}`);
    if (r.error instanceof RowError) {
      expect(r.error.row).toBeGreaterThanOrEqual(1);
      // The column is a table column, or (NDJSON) the offending key itself, named as such.
      const column = r.error.column;
      if (column !== undefined && !NAMES.has(column)) {
        if (column.length <= 60) expect(r.error.message).toContain(JSON.stringify(column));
        expect(r.error.message).toMatch(/unknown column|not among this upload's columns/);
      }
      expect(r.error.message).toMatch(/^row \d+/);
    }
    if (r.error instanceof LimitError) expect(r.error.limit).toBe(64);
    return;
  }
  // Success: the output must be a COPY stream PostgreSQL could parse with this column list.
  const cols = r.columns!;
  if (r.copyFormat === 'binary') {
    const rows = decodeBinaryCopy(
      r.output,
      cols.map((c) => DECODE[c.name as keyof typeof DECODE]),
    );
    expect(rows.length).toBe(r.rows);
  } else {
    const rows = decodeTextCopy(r.output);
    expect(rows.length).toBe(r.rows);
    for (const row of rows) expect(row.length).toBe(cols.length);
  }
}

describe.each(['ndjson', 'csv', 'tsv', 'pgcopy'] as const)('%s', (format) => {
  it('random bytes: only our errors, or a well-formed COPY stream (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.nat(), async (bytes, seed) => {
        await check(format, Buffer.from(bytes), seed);
      }),
      { numRuns: 300 },
    );
  });

  it('damaged valid bodies: only our errors, or a well-formed COPY stream (property)', async () => {
    await fc.assert(
      fc.asyncProperty(damage, fc.nat(), async (edits, seed) => {
        await check(format, applyDamage(valid[format], edits), seed);
      }),
      { numRuns: 500 },
    );
  });

  it('the undamaged body is accepted', async () => {
    const r = await runEncoder({ format, tableColumns: TABLE, requestedColumns: requested[format] }, [
      valid[format],
    ]);
    expect(r.error).toBeUndefined();
    expect(r.rows).toBe(2);
  });
});

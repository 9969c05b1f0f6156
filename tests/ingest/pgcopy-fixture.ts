// Builds PostgreSQL binary COPY streams for tests, independently of ingest/formats: the desktop app's side
// of the application/x-pgcopy contract (header, tuples, trailer; big-endian; -1 = NULL).

export type PgCopyValue = { int8: number } | { int4: number } | { text: string } | { jsonb: string } | null;

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

function field(v: PgCopyValue): Buffer {
  if (v === null) return int32(-1);
  let data: Buffer;
  if ('int8' in v) {
    data = Buffer.alloc(8);
    data.writeBigInt64BE(BigInt(v.int8));
  } else if ('int4' in v) {
    data = int32(v.int4);
  } else if ('text' in v) {
    data = Buffer.from(v.text, 'utf8');
  } else {
    data = Buffer.concat([Buffer.from([1]), Buffer.from(v.jsonb, 'utf8')]); // jsonb binary format version 1
  }
  return Buffer.concat([int32(data.length), data]);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function int16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
}

export function pgcopyHeader(): Buffer {
  return Buffer.concat([SIGNATURE, int32(0), int32(0)]);
}

export function pgcopyTuple(values: PgCopyValue[]): Buffer {
  return Buffer.concat([int16(values.length), ...values.map(field)]);
}

export const PGCOPY_TRAILER = int16(-1);

export function pgcopy(rows: PgCopyValue[][]): Buffer {
  return Buffer.concat([pgcopyHeader(), ...rows.map(pgcopyTuple), PGCOPY_TRAILER]);
}

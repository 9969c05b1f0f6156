// Independent decoders for what the encoders produce, written from the PostgreSQL docs (not sharing the
// encoder's code): binary COPY tuples to typed JS values, and COPY text format to strings.

export type Decoded = string | number | bigint | boolean | null;

/** Column kinds the binary decoder understands, by type name. */
export type DecodeType =
  | 'text'
  | 'int2'
  | 'int4'
  | 'int8'
  | 'float4'
  | 'float8'
  | 'bool'
  | 'uuid'
  | 'date'
  | 'timestamp'
  | 'timestamptz'
  | 'json'
  | 'jsonb';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/**
 * Decodes a complete binary COPY stream. Values: text/json/jsonb as string (jsonb without its version
 * byte, which must be 1), ints as bigint, floats as number, bool, uuid as lowercase 8-4-4-4-12, date as
 * days since 2000-01-01 (number), timestamps as microseconds since 2000-01-01 (bigint).
 */
export function decodeBinaryCopy(buf: Buffer, types: readonly DecodeType[]): Decoded[][] {
  if (!buf.subarray(0, 11).equals(SIGNATURE)) throw new Error('bad signature');
  let p = 11;
  const flags = buf.readInt32BE(p);
  // Bits 0-15 are non-critical (ignored, as PostgreSQL does); anything above is not ours to accept.
  if (flags >>> 16 !== 0) throw new Error(`critical flags ${flags}`);
  const ext = buf.readInt32BE(p + 4);
  p += 8 + ext;
  const rows: Decoded[][] = [];
  for (;;) {
    const n = buf.readInt16BE(p);
    p += 2;
    if (n === -1) break;
    if (n !== types.length) throw new Error(`tuple with ${n} fields, expected ${types.length}`);
    const row: Decoded[] = [];
    for (let k = 0; k < n; k++) {
      const len = buf.readInt32BE(p);
      p += 4;
      if (len === -1) {
        row.push(null);
        continue;
      }
      const f = buf.subarray(p, p + len);
      if (f.length !== len) throw new Error('truncated field');
      p += len;
      row.push(decodeField(f, types[k]));
    }
    rows.push(row);
  }
  if (p !== buf.length) throw new Error(`${buf.length - p} bytes after the trailer`);
  return rows;
}

function decodeField(f: Buffer, type: DecodeType): Decoded {
  const want = (n: number): void => {
    if (f.length !== n) throw new Error(`${type} field of ${f.length} bytes`);
  };
  switch (type) {
    case 'text':
    case 'json':
      return f.toString('utf8');
    case 'jsonb':
      if (f[0] !== 1) throw new Error(`jsonb version ${f[0]}`);
      return f.subarray(1).toString('utf8');
    case 'int2':
      want(2);
      return BigInt(f.readInt16BE(0));
    case 'int4':
      want(4);
      return BigInt(f.readInt32BE(0));
    case 'int8':
      want(8);
      return f.readBigInt64BE(0);
    case 'float4':
      want(4);
      return f.readFloatBE(0);
    case 'float8':
      want(8);
      return f.readDoubleBE(0);
    case 'bool':
      want(1);
      if (f[0] > 1) throw new Error(`bool byte ${f[0]}`);
      return f[0] === 1;
    case 'uuid': {
      want(16);
      const h = f.toString('hex');
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    }
    case 'date':
      want(4);
      return f.readInt32BE(0);
    case 'timestamp':
    case 'timestamptz':
      want(8);
      return f.readBigInt64BE(0);
  }
}

/** COPY text format (LF or CRLF lines) -> rows of fields (null for \N), decoding every backslash escape PostgreSQL knows. */
export function decodeTextCopy(buf: Buffer): (string | null)[][] {
  const rows: (string | null)[][] = [];
  let fields: (string | null)[] = [];
  let cur: number[] = [];
  let i = 0;
  const endField = (): void => {
    if (cur.length === 2 && cur[0] === -1 && cur[1] === 0x4e) fields.push(null);
    else fields.push(Buffer.from(cur.map((c) => (c === -1 ? 0x5c : c))).toString('utf8'));
    cur = [];
  };
  while (i < buf.length) {
    const c = buf[i++];
    if (c === 0x5c) {
      const d = buf[i++];
      if (d === 0x4e) {
        cur.push(-1, 0x4e); // marker for a possible \N
        continue;
      }
      const simple: Record<number, number> = { 0x62: 8, 0x66: 12, 0x6e: 10, 0x72: 13, 0x74: 9, 0x76: 11 };
      if (simple[d] !== undefined) cur.push(simple[d]);
      else if (d === 0x78) {
        let v = 0;
        for (let k = 0; k < 2 && /[0-9a-f]/i.test(String.fromCharCode(buf[i])); k++) {
          v = v * 16 + parseInt(String.fromCharCode(buf[i++]), 16);
        }
        cur.push(v);
      } else if (d >= 0x30 && d <= 0x37) {
        let v = d - 0x30;
        for (let k = 1; k < 3 && buf[i] >= 0x30 && buf[i] <= 0x37; k++) v = v * 8 + (buf[i++] - 0x30);
        cur.push(v & 0xff);
      } else cur.push(d);
    } else if (c === 0x09) endField();
    else if (c === 0x0d && buf[i] === 0x0a) {
      // CRLF line end (data never holds a raw CR: it is written \r).
      i++;
      endField();
      rows.push(fields);
      fields = [];
    } else if (c === 0x0a) {
      endField();
      rows.push(fields);
      fields = [];
    } else cur.push(c);
  }
  if (cur.length > 0 || fields.length > 0) {
    endField();
    rows.push(fields);
  }
  return rows;
}

/** PostgreSQL COPY text escaping of one value (the reference for what TSV bodies and text COPY hold). */
export function escapeText(v: string | null): string {
  if (v === null) return '\\N';
  return v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

/** RFC 4180 field: always quoted (so "" is the empty string), null as an empty unquoted field. */
export function csvField(v: string | null): string {
  return v === null ? '' : `"${v.replace(/"/g, '""')}"`;
}

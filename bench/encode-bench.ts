// Encoding throughput of the format layer, per upload format, on generated TM rows (~200 B each:
// tm_id int8, source, target, created_by text). Not a test: prints rows/s and MB/s for one process.
//   npx tsx bench/encode-bench.ts [--rows 1000000] [--chunk 65536] [--formats ndjson,csv,tsv,pgcopy,sdk]
// Bodies are generated in memory first, then fed in 64 KiB pieces (like HTTP) through createCopyEncoder;
// the COPY output is counted and dropped. "sdk" is encodeRows() from JS objects (the desktop app's side).
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type ColumnInfo, type UploadFormat, createCopyEncoder, encodePgCopy } from '../ingest/formats';

const args = process.argv.slice(2);
const arg = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const ROWS = arg('rows', 1_000_000);
const PIECE = arg('chunk', 65536);
const fi = args.indexOf('--formats');
const FORMATS = (fi >= 0 ? args[fi + 1] : 'ndjson,csv,tsv,pgcopy,sdk').split(',');

const COLUMNS: ColumnInfo[] = [
  { name: 'tm_id', type: 'bigint', typeOid: 20, nullable: false, hasDefault: false },
  { name: 'source', type: 'text', typeOid: 25, nullable: false, hasDefault: false },
  { name: 'target', type: 'text', typeOid: 25, nullable: false, hasDefault: false },
  { name: 'created_by', type: 'text', typeOid: 25, nullable: true, hasDefault: false },
  { name: 'created_at', type: 'timestamp with time zone', typeOid: 1184, nullable: false, hasDefault: true },
];
const NAMES = ['tm_id', 'source', 'target', 'created_by'];

// Deterministic text: mostly ASCII words, some accents, now and then a tab/newline/quote/backslash.
let seed = 42;
const rand = (): number => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed / 4294967296;
};
const WORDS = [
  'the',
  'translation',
  'memory',
  'segment',
  'Übersetzung',
  'données',
  'file',
  'row',
  'quick',
  'brown',
  'naïve',
  'über',
  'test',
  'value',
  'source',
  'target',
];
function sentence(bytes: number): string {
  let s = '';
  while (s.length < bytes) {
    const r = rand();
    s +=
      (s ? (r < 0.01 ? '\t' : r < 0.02 ? '\n' : r < 0.03 ? ' "' : r < 0.035 ? '\\' : ' ') : '') +
      WORDS[Math.floor(rand() * WORDS.length)];
  }
  // Flat, like strings read from a file or a database (+= builds ropes that every consumer must flatten).
  return Buffer.from(s, 'utf8').toString('utf8');
}

interface TmRow {
  tm_id: bigint;
  source: string;
  target: string;
  created_by: string | null;
}

function makeRows(n: number): TmRow[] {
  const rows: TmRow[] = [];
  for (let i = 0; i < n; i++) {
    rows.push({
      tm_id: BigInt(1 + Math.floor(rand() * 1e6)),
      source: sentence(80),
      target: sentence(80),
      created_by: i % 10 === 0 ? null : `user${i % 97}@example.com`,
    });
  }
  return rows;
}

const esc = (v: string | null): string =>
  v === null
    ? '\\N'
    : v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
const csv = (v: string | null): string =>
  v === null ? '' : /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v === '' ? '""' : v;

function makeBody(format: UploadFormat, rows: TmRow[]): Buffer {
  const parts: string[] = [];
  if (format === 'csv') parts.push(NAMES.join(',') + '\n');
  if (format === 'tsv') parts.push(NAMES.join('\t') + '\n');
  if (format === 'pgcopy') return Buffer.concat([...encodePgCopy(COLUMNS.slice(0, 4), rows)]);
  for (const r of rows) {
    if (format === 'ndjson')
      parts.push(
        `{"tm_id":${r.tm_id},"source":${JSON.stringify(r.source)},"target":${JSON.stringify(r.target)},"created_by":${JSON.stringify(r.created_by)}}\n`,
      );
    else if (format === 'csv')
      parts.push(`${r.tm_id},${csv(r.source)},${csv(r.target)},${csv(r.created_by)}\n`);
    else parts.push(`${r.tm_id}\t${esc(r.source)}\t${esc(r.target)}\t${esc(r.created_by)}\n`);
  }
  return Buffer.from(parts.join(''));
}

function pieces(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += PIECE) out.push(buf.subarray(i, i + PIECE));
  return out;
}

interface Timing {
  /** Wall-clock seconds. */
  seconds: number;
  /** CPU seconds of this process (user + system): steadier than wall time on a busy machine. */
  cpu: number;
}

// A full GC before each measurement, so that cleaning up the generated input is not billed to encoding.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

async function timed<T>(run: () => Promise<T>): Promise<T & Timing> {
  gc();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const r = await run();
  const c = process.cpuUsage(c0);
  return { ...r, seconds: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
}

async function encode(
  format: UploadFormat,
  body: Buffer,
): Promise<{ outBytes: number; rows: number } & Timing> {
  const enc = createCopyEncoder({
    format,
    tableColumns: COLUMNS,
    requestedColumns: format === 'pgcopy' ? NAMES : undefined,
    maxFieldBytes: 1 << 20,
    chunkBytes: 65536,
  });
  let outBytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      outBytes += chunk.length;
      cb();
    },
  });
  const input = pieces(body);
  return timed(async () => {
    await pipeline(Readable.from(input), enc.transform, sink);
    return { outBytes, rows: enc.rowsSeen() };
  });
}

function report(label: string, rows: number, inBytes: number, t: Timing, outBytes: number): void {
  const per = (s: number): string =>
    Math.round(rows / s)
      .toLocaleString('en-US')
      .padStart(10);
  console.log(
    `${label.padEnd(7)} ${per(t.seconds)} rows/s wall  ${per(t.cpu)} rows/CPU-s  ${(inBytes / t.cpu / 1e6).toFixed(0).padStart(4)} MB/CPU-s  ` +
      `(${(inBytes / 1e6).toFixed(0)} MB in -> ${(outBytes / 1e6).toFixed(0)} MB COPY, ${t.seconds.toFixed(2)} s)`,
  );
}

async function main(): Promise<void> {
  console.log(`${ROWS.toLocaleString('en-US')} TM rows per format, fed in ${PIECE}-byte pieces`);
  for (const format of (['ndjson', 'csv', 'tsv', 'pgcopy'] as const).filter((f) => FORMATS.includes(f))) {
    // Only the body stays alive while encoding: like the worker, whose heap holds no rows.
    seed = 42;
    const body = makeBody(format, makeRows(ROWS));
    await encode(format, makeBody(format, makeRows(20000))); // warm up the JIT
    const r = await encode(format, body);
    if (r.rows !== ROWS) throw new Error(`${format}: ${r.rows} rows encoded, expected ${ROWS}`);
    report(format, ROWS, body.length, r, r.outBytes);
  }
  if (!FORMATS.includes('sdk')) return;
  // The desktop SDK side: JS objects (held by the app) -> pgcopy body.
  seed = 42;
  const rows = makeRows(ROWS);
  const r = await timed(async () => {
    let out = 0;
    for (const chunk of encodePgCopy(COLUMNS.slice(0, 4), rows)) out += chunk.length;
    return { out };
  });
  report('sdk', ROWS, r.out, r, r.out);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

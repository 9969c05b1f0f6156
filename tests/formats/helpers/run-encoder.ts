// Drives createCopyEncoder over a given list of input chunks, collecting output, columns and errors.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type ColumnInfo, type CopyEncoderOptions, createCopyEncoder } from '../../../ingest/formats';
import { mulberry32 } from '../../../ingest/client/tm-rows';

export interface EncoderRun {
  output: Buffer;
  /** Output chunk sizes, in order. */
  chunkSizes: number[];
  columns?: ColumnInfo[];
  copyFormat?: 'binary' | 'text';
  error?: Error;
  rows: number;
}

export async function runEncoder(
  opts: Partial<CopyEncoderOptions> & Pick<CopyEncoderOptions, 'format' | 'tableColumns'>,
  chunks: readonly Buffer[],
): Promise<EncoderRun> {
  const enc = createCopyEncoder({ maxFieldBytes: 1 << 20, chunkBytes: 65536, ...opts });
  const out: Buffer[] = [];
  let error: Error | undefined;
  try {
    await pipeline(
      Readable.from(chunks, { objectMode: false }),
      enc.transform,
      async (source: AsyncIterable<Buffer>) => {
        for await (const b of source) out.push(b);
      },
    );
  } catch (err) {
    error = err as Error;
  }
  let columns: ColumnInfo[] | undefined;
  try {
    columns = await enc.columns;
  } catch (err) {
    error ??= err as Error;
  }
  let copyFormat: 'binary' | 'text' | undefined;
  try {
    copyFormat = enc.copyFormat;
  } catch {
    copyFormat = undefined;
  }
  return {
    output: Buffer.concat(out),
    chunkSizes: out.map((b) => b.length),
    columns,
    copyFormat,
    error,
    rows: enc.rowsSeen(),
  };
}

export function splitEvery(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

/** Cuts buf at random points (between 1 and maxPiece bytes apart). */
export function splitRandom(buf: Buffer, seed: number, maxPiece = 64): Buffer[] {
  const r = mulberry32(seed);
  const out: Buffer[] = [];
  let i = 0;
  while (i < buf.length) {
    const n = 1 + Math.floor(r() * maxPiece);
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

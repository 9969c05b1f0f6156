// Writes one row stream to files in several formats in a single pass, so every file holds the same rows.
import fs from 'node:fs';
import path from 'node:path';
import { createRowEncoder, type RowFormat } from './row-encoders';
import type { TmRow } from '../ingest/client/tm-rows';

export interface RowFile {
  format: RowFormat;
  path: string;
  bytes: number;
  rows: number;
}

export type RowFileSet = Partial<Record<RowFormat, RowFile>>;

const FILE_CHUNK = 1024 * 1024;

export function rowFilePath(dir: string, name: string, format: RowFormat): string {
  return path.join(dir, `${name}.${format}`);
}

/** Writes `rows` as `<dir>/<name>.<format>` for each format; returns each file's size. */
export function writeRowFiles(
  dir: string,
  name: string,
  rows: Iterable<TmRow>,
  formats: readonly RowFormat[],
): RowFileSet {
  const outs = formats.map((format) => ({
    format,
    path: rowFilePath(dir, name, format),
    enc: createRowEncoder(format, FILE_CHUNK),
    fd: -1,
    bytes: 0,
  }));
  let count = 0;
  try {
    for (const o of outs) o.fd = fs.openSync(o.path, 'w', 0o644);
    const write = (o: (typeof outs)[number], buf: Buffer) => {
      let off = 0;
      while (off < buf.length) off += fs.writeSync(o.fd, buf, off, buf.length - off);
      o.bytes += buf.length;
    };
    for (const row of rows) {
      count++;
      for (const o of outs) {
        o.enc.add(row);
        const chunk = o.enc.take();
        if (chunk) write(o, chunk);
      }
    }
    for (const o of outs) write(o, o.enc.finish());
  } finally {
    for (const o of outs) if (o.fd >= 0) fs.closeSync(o.fd);
  }
  const set: RowFileSet = {};
  for (const o of outs) set[o.format] = { format: o.format, path: o.path, bytes: o.bytes, rows: count };
  return set;
}

// file_rows bodies for fault tests, and the questions asked of the table afterwards.
import type { LiveStack } from './live-stack';
import { openUpload, type Format, type OpenUpload, type UploadOptions } from './http-client';
import { PGCOPY_HEAD, PGCOPY_TRAILER } from './row-formats';

/** NDJSON rows row_num = from … from+n-1 of one file_id, ~120 bytes each, in pieces of `perPiece` rows. */
export function fileRowsNdjson(fileId: number, n: number, from = 1, perPiece = 250): string[] {
  const pieces: string[] = [];
  let piece = '';
  for (let i = from; i < from + n; i++) {
    piece +=
      JSON.stringify({
        file_id: fileId,
        row_num: i,
        source: `source ${fileId}/${i} – «quoted» \t tab`,
        target: `target ${i}`,
        metadata: { i },
      }) + '\n';
    if ((i - from + 1) % perPiece === 0) {
      pieces.push(piece);
      piece = '';
    }
  }
  if (piece) pieces.push(piece);
  return pieces;
}

/**
 * `n` rows (row_num 1…n) of one file in any format, in pieces of `perPiece` rows (the first piece of CSV is
 * its header, of pgcopy its signature; the last of pgcopy its trailer). Same arguments, same bytes: a retry
 * with the same Idempotency-Key sends the same body.
 */
export function fileRowsBody(
  format: Format,
  fileId: number,
  n: number,
  perPiece = 300,
): { pieces: Buffer[]; columns?: string } {
  const chunked = (line: (row: number) => string | Buffer): Buffer[] => {
    const pieces: Buffer[] = [];
    for (let i = 1; i <= n; i += perPiece) {
      const rows: (string | Buffer)[] = [];
      for (let r = i; r < Math.min(n + 1, i + perPiece); r++) rows.push(line(r));
      pieces.push(Buffer.concat(rows.map((x) => (typeof x === 'string' ? Buffer.from(x, 'utf8') : x))));
    }
    return pieces;
  };
  switch (format) {
    case 'ndjson':
      return { pieces: fileRowsNdjson(fileId, n, 1, perPiece).map((p) => Buffer.from(p, 'utf8')) };
    case 'csv':
      return {
        pieces: [
          Buffer.from('file_id,row_num,source,target\r\n'),
          ...chunked((r) => `${fileId},${r},"row ""${r}"", with comma","ünïcödé ${r}"\r\n`),
        ],
      };
    case 'tsv':
      return {
        pieces: chunked((r) => `${fileId}\t${r}\tline\\twith escapes\\n${r}\t\\N\n`),
        columns: 'file_id,row_num,source,target',
      };
    case 'pgcopy': {
      const tuple = (r: number) => {
        const b = Buffer.alloc(2 + 4 + 8 + 4 + 4);
        b.writeInt16BE(2, 0);
        b.writeInt32BE(8, 2);
        b.writeBigInt64BE(BigInt(fileId), 6);
        b.writeInt32BE(4, 14);
        b.writeInt32BE(r, 18);
        return b;
      };
      return { pieces: [PGCOPY_HEAD, ...chunked(tuple), PGCOPY_TRAILER], columns: 'file_id,row_num' };
    }
  }
}

export interface RowCount {
  rows: number;
  distinct: number;
}

/** How many rows of a file are stored, and how many distinct row numbers among them. */
export async function countFile(live: LiveStack, fileId: number): Promise<RowCount> {
  const [r] = await live.sql<RowCount>(
    'SELECT count(*)::int AS rows, count(DISTINCT row_num)::int AS distinct FROM file_rows WHERE file_id = $1',
    [fileId],
  );
  return r;
}

/**
 * Waits until PostgreSQL shows at least `copies` ingest backends running a COPY and, when `key` is given, the
 * worker reports that upload as receiving rows: the upload is mid-stream in the database.
 */
export async function waitForCopyInProgress(
  live: LiveStack,
  opts: { copies?: number; key?: string; timeoutMs?: number } = {},
): Promise<void> {
  const { copies = 1, key, timeoutMs = 30_000 } = opts;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const backends = await live.ingestBackends();
    const running = backends.filter((b) => b.state === 'active' && /^COPY /.test(b.query)).length;
    let receiving = key === undefined;
    if (!receiving) {
      const res = await fetch(`${live.url}/v1/uploads?idempotencyKey=${encodeURIComponent(key!)}`, {
        headers: { Authorization: `Bearer ${live.token}` },
      });
      const body = (await res.json()) as { state?: string; rows?: number };
      receiving = body.state === 'receiving' && (body.rows ?? 0) > 0;
    }
    if (running >= copies && receiving) return;
    if (Date.now() > deadline)
      throw new Error(`no COPY in progress (want ${copies}, key ${key}): ${JSON.stringify(backends)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Opens an upload of `n` rows for `fileId`, writes the first half and waits until its COPY is running in
 * PostgreSQL. Returns the open upload and the pieces still to send.
 */
export async function uploadHalfway(
  live: LiveStack,
  fileId: number,
  n: number,
  opts: UploadOptions & { key: string; token?: undefined },
  copies = 1,
): Promise<{ u: OpenUpload; rest: string[]; all: string[] }> {
  const all = fileRowsNdjson(fileId, n);
  const half = Math.ceil(all.length / 2);
  const u = openUpload(live.url, 'file_rows', 'ndjson', { token: live.token, ...opts });
  for (const piece of all.slice(0, half)) await u.write(piece);
  await waitForCopyInProgress(live, { copies, key: opts.key });
  return { u, rest: all.slice(half), all };
}

// file_rows bodies for fault tests, and the questions asked of the table afterwards.
import type { LiveStack } from './live-stack';
import { openUpload, type OpenUpload, type UploadOptions } from './http-client';

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

/** Waits until PostgreSQL shows an ingest backend running a COPY: the upload is mid-stream in the database. */
export async function waitForCopyInProgress(live: LiveStack, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const backends = await live.ingestBackends();
    if (backends.some((b) => b.state === 'active' && /^COPY /.test(b.query))) return;
    if (Date.now() > deadline) throw new Error(`no COPY in progress: ${JSON.stringify(backends)}`);
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
  opts: UploadOptions,
): Promise<{ u: OpenUpload; rest: string[]; all: string[] }> {
  const all = fileRowsNdjson(fileId, n);
  const half = Math.ceil(all.length / 2);
  const u = openUpload(live.url, 'file_rows', 'ndjson', { token: live.token, ...opts });
  for (const piece of all.slice(0, half)) await u.write(piece);
  await waitForCopyInProgress(live);
  return { u, rest: all.slice(half), all };
}

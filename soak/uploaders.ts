// The soak's clients: loops that upload file_rows in random formats and sizes, slowly enough to be caught
// mid-stream by a fault, sometimes vanishing mid-body on purpose, and retrying everything else with the same
// Idempotency-Key until it is acknowledged, as the desktop app does.
import { isDropped, openUpload, sleep, type Format, type Outcome } from '../tests/reliability/http-client';
import { fileRowsBody } from '../tests/reliability/file-rows';
import type { Ledger, UploadRecord } from './ledger';

const FORMATS: Format[] = ['ndjson', 'csv', 'tsv', 'pgcopy'];

export interface UploaderOptions {
  url: () => string;
  tokens: readonly string[];
  ledger: Ledger;
  rnd: () => number;
  /** Probability that an upload's first attempt vanishes mid-body (a client-disconnect fault). */
  abandonRate: number;
  maxRows: number;
  /** Shared counter of file ids (each upload its own file). */
  nextFileId: () => number;
}

/** Sends one attempt of `rec`; `vanishAfter` pieces, when given, are sent before the client disconnects. */
async function attempt(
  o: UploaderOptions,
  rec: UploadRecord,
  vanishAfter?: number,
): Promise<Outcome | 'vanished'> {
  const { pieces, columns } = fileRowsBody(rec.format, rec.fileId, rec.rows);
  const u = openUpload(o.url(), 'file_rows', rec.format, { token: rec.token, key: rec.key, columns });
  rec.attempts++;
  for (const [i, piece] of pieces.entries()) {
    if (u.settled) break;
    if (vanishAfter !== undefined && i >= vanishAfter) {
      u.abort();
      return 'vanished';
    }
    await u.write(piece);
    if (o.rnd() < 0.3) await sleep(Math.floor(o.rnd() * 15)); // a client on a real network: uneven pace
  }
  u.end();
  return u.outcome;
}

/** Applies an outcome to the record; true when the upload is settled (acknowledged). */
function settle(o: UploaderOptions, rec: UploadRecord, out: Outcome): boolean {
  if (isDropped(out)) {
    o.ledger.outcome('dropped');
    return false;
  }
  o.ledger.outcome(String(out.status));
  if (out.status === 201 || out.status === 200) {
    if (out.body.rows !== rec.rows)
      o.ledger.unexpected.push(`${rec.key}: ${out.status} reports ${out.body.rows} rows, sent ${rec.rows}`);
    if (out.status === 201) rec.created++;
    rec.state = 'acknowledged';
    return true;
  }
  // 503: database or worker unavailable / at its limit; 409: the previous attempt is still being rolled back.
  if (out.status === 503 || out.status === 409) return false;
  o.ledger.unexpected.push(`${rec.key}: ${out.status} ${out.text}`);
  return false;
}

/** Retries `rec` with its key until acknowledged or `until()` says stop. */
export async function untilAcknowledged(
  o: UploaderOptions,
  rec: UploadRecord,
  until: () => boolean,
): Promise<void> {
  let pause = 100;
  while (rec.state === 'pending' && !until()) {
    const out = await attempt(o, rec);
    if (out !== 'vanished' && settle(o, rec, out)) return;
    await sleep(pause + Math.floor(o.rnd() * pause));
    pause = Math.min(2000, pause * 2);
  }
}

/** One client loop: new uploads one after another until `stop()`. */
export async function uploaderLoop(o: UploaderOptions, index: number, stop: () => boolean): Promise<void> {
  while (!stop()) {
    const fileId = o.nextFileId();
    const rec = o.ledger.add({
      fileId,
      key: `soak-${fileId}`,
      token: o.tokens[index % o.tokens.length],
      format: FORMATS[Math.floor(o.rnd() * FORMATS.length)],
      rows: 1 + Math.floor(o.rnd() * o.maxRows),
    });
    const pieces = fileRowsBody(rec.format, fileId, rec.rows).pieces.length;
    if (pieces > 1 && o.rnd() < o.abandonRate) {
      const out = await attempt(o, rec, 1 + Math.floor(o.rnd() * (pieces - 1)));
      if (out === 'vanished') {
        rec.state = 'abandoned';
        o.ledger.outcome('vanished (client disconnect)');
        continue;
      }
      // Answered before the client got to vanish (e.g. a 503 at once): an ordinary attempt after all.
      if (settle(o, rec, out)) continue;
    }
    await untilAcknowledged(o, rec, stop);
  }
}

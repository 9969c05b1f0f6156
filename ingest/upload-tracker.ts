// In-memory state of uploads: live ones (progress, the in-process Idempotency-Key claim, shutdown aborts)
// and recently finished ones (so a failed upload can still be looked up). Committed uploads are also in
// powerhouse.uploads, which outlives this process. The ops dashboard reads the same state (ingest/status/).

export type UploadState = 'queued' | 'receiving' | 'committing' | 'committed' | 'failed';

export interface UploadStatus {
  uploadId: string;
  table: string;
  state: UploadState;
  rows: number;
  bytes: number;
  error?: Record<string, unknown>;
}

export interface TrackedUpload {
  readonly id: string;
  readonly tokenId: string;
  readonly table: string;
  readonly idempotencyKey: string | undefined;
  readonly startedAt: number;
  /** The body size the request declared (Content-Length), the dashboard's progress total; absent when chunked. */
  readonly declaredBytes?: number;
  state: UploadState;
  bytes: number;
  rows: () => number;
  error?: Record<string, unknown>;
  /** Stops the upload (rollback, release); set by the upload while it runs. */
  abort: (err: Error) => void;
  /** Resolves when the upload has released everything it held. */
  done: Promise<void>;
}

const FINISHED_KEEP = 10_000;
const FINISHED_TTL_MS = 60 * 60 * 1000;

function keyOf(tokenId: string, table: string, key: string): string {
  return `${tokenId}\0${table}\0${key}`;
}

/** A finished upload as this process remembers it (for lookups and the dashboard). */
export interface FinishedUpload {
  readonly status: UploadStatus;
  readonly tokenId: string;
  readonly key?: string;
  readonly startedAt: number;
  /** When it finished (ms since the epoch). */
  readonly at: number;
}

export class UploadTracker {
  private readonly live = new Map<string, TrackedUpload>();
  private readonly claims = new Map<string, string>();
  /** Insertion-ordered: the oldest entries are dropped first. */
  private readonly finished = new Map<string, FinishedUpload>();
  /** Rows and body bytes read by uploads that have finished (whatever their outcome), since start. */
  private readonly done = { rows: 0, bytes: 0 };

  /** Claims the Idempotency-Key in this process; false when an upload with it is running here (→ 409). */
  claim(upload: TrackedUpload): boolean {
    if (upload.idempotencyKey !== undefined) {
      const k = keyOf(upload.tokenId, upload.table, upload.idempotencyKey);
      if (this.claims.has(k)) return false;
      this.claims.set(k, upload.id);
    }
    this.live.set(upload.id, upload);
    return true;
  }

  /** Ends a live upload; `remember` keeps its final status for lookups (not for replays, which wrote nothing). */
  finish(upload: TrackedUpload, remember = true): void {
    if (this.live.delete(upload.id)) {
      this.done.rows += upload.rows();
      this.done.bytes += upload.bytes;
    }
    if (upload.idempotencyKey !== undefined) {
      const k = keyOf(upload.tokenId, upload.table, upload.idempotencyKey);
      if (this.claims.get(k) === upload.id) this.claims.delete(k);
    }
    if (!remember) return;
    this.finished.set(upload.id, {
      status: statusOf(upload),
      tokenId: upload.tokenId,
      key: upload.idempotencyKey,
      startedAt: upload.startedAt,
      at: Date.now(),
    });
    this.prune();
  }

  get liveUploads(): TrackedUpload[] {
    return [...this.live.values()];
  }

  /** Rows and body bytes read since start by every upload, finished or live (only ever grows). */
  received(): { rows: number; bytes: number } {
    let { rows, bytes } = this.done;
    for (const u of this.live.values()) {
      rows += u.rows();
      bytes += u.bytes;
    }
    return { rows, bytes };
  }

  /** Finished uploads remembered since `sinceMs` (at most 1 hour and 10 000 back), newest first. */
  finishedSince(sinceMs: number): FinishedUpload[] {
    const out: FinishedUpload[] = [];
    for (const f of this.finished.values()) if (f.at >= sinceMs) out.push(f);
    return out.reverse();
  }

  /** Status of an upload this process ran, if the token owns it. */
  get(uploadId: string, tokenId: string): UploadStatus | undefined {
    const live = this.live.get(uploadId);
    if (live) return live.tokenId === tokenId ? statusOf(live) : undefined;
    const done = this.finished.get(uploadId);
    return done && done.tokenId === tokenId ? done.status : undefined;
  }

  /** A running upload of this token with this key (optionally for one table). */
  liveByKey(tokenId: string, key: string, table?: string): UploadStatus | undefined {
    for (const u of this.live.values())
      if (u.tokenId === tokenId && u.idempotencyKey === key && (table === undefined || u.table === table))
        return statusOf(u);
    return undefined;
  }

  /** The most recent finished upload of this token with this key that this process remembers. */
  finishedByKey(tokenId: string, key: string, table?: string): UploadStatus | undefined {
    let found: UploadStatus | undefined;
    for (const f of this.finished.values())
      if (f.tokenId === tokenId && f.key === key && (table === undefined || f.status.table === table))
        found = f.status;
    return found;
  }

  private prune(): void {
    const cutoff = Date.now() - FINISHED_TTL_MS;
    for (const [id, f] of this.finished) {
      if (this.finished.size <= FINISHED_KEEP && f.at >= cutoff) break;
      this.finished.delete(id);
    }
  }
}

export function statusOf(u: TrackedUpload): UploadStatus {
  return {
    uploadId: u.id,
    table: u.table,
    state: u.state,
    rows: u.rows(),
    bytes: u.bytes,
    ...(u.error ? { error: u.error } : {}),
  };
}

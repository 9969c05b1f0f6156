// Parallel COPY of one upload. The upload's own transaction (its connection, holding the Idempotency-Key lock)
// is part 0 and the coordinator; up to maxParts − 1 more parts, each a transaction on its own upload-pool
// connection, are opened while the body grows and one of the worker's COPY turns is free (copy-gate.ts).
// Whole rows (row-cutter.ts) go to the part with the least data queued. At the end:
//   every extra part: PREPARE TRANSACTION 'ph:<upload>:<k>'   (durable, bound to no session)
//   part 0: the upload record, then COMMIT                     (the decision: all or nothing from here)
//   every extra part: COMMIT PREPARED                          (a crash here is finished by resolver.ts)
// Before the decision any failure rolls every part back; after it, prepared parts are only ever committed.
import type { Pool } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Logger } from 'pino';
import { PGCOPY_HEADER } from '../formats/pgcopy-encoder';
import { eventOrAbort } from '../event-or-abort';
import { HeldConnection } from '../held-connection';
import { withDeadline } from '../deadline';
import { partGid } from './resolver';
import type { RowPiece } from './row-cutter';
import type { CopyGate } from '../copy-gate';

type CopyStream = ReturnType<typeof copyFrom>;

const TRAILER = Buffer.from([0xff, 0xff]);

export interface ParallelCopyOptions {
  /** Parts per upload at most (the upload's own COPY included); 1 turns splitting off. */
  readonly maxParts: number;
  /** Another part opens after each this many bytes of COPY data. */
  readonly partBytes: number;
  /** The worker's COPY turns: an extra part opens only when one is free and no upload waits for it. */
  readonly gate: CopyGate;
}

export interface CopyPartsDeps {
  readonly pool: Pool;
  readonly uploadId: string;
  readonly copySql: string;
  readonly copyFormat: 'binary' | 'text';
  readonly options: ParallelCopyOptions;
  readonly signal: AbortSignal;
  /** The first failure of any part: the upload fails with it. */
  readonly fail: (err: unknown) => void;
  readonly log: Logger;
  /** Bound on each statement of an extra part outside its COPY (BEGIN, PREPARE, COMMIT PREPARED). */
  readonly statementTimeoutMs: number;
}

/** Where each piece of a part's rows came from: line numbers in a part's COPY errors become upload rows. */
interface Placement {
  readonly partLine: number;
  readonly uploadRow: number;
}

class Part {
  lines = 0;
  readonly placements: Placement[] = [];
  state: 'copying' | 'ended' | 'prepared' | 'committed' | 'rolled_back' = 'copying';
  waiting?: Promise<void>;

  constructor(
    readonly index: number,
    readonly copy: CopyStream,
    /** Absent for part 0: the upload's own connection, which the upload manages. */
    readonly conn?: HeldConnection,
  ) {}

  get queued(): number {
    return this.copy.writableLength;
  }
}

export class CopyParts {
  private readonly parts: Part[];
  private bytes = 0;
  private rows = 0;
  private opening?: Promise<void>;
  private stopOpening = false;

  constructor(
    private readonly d: CopyPartsDeps,
    main: CopyStream,
  ) {
    this.parts = [new Part(0, main)];
    this.begin(this.parts[0]);
  }

  /** Parts in use: the number the upload record keeps. */
  get count(): number {
    return this.parts.length;
  }

  /** The gids of the prepared parts (for the log and the tests). */
  get preparedGids(): string[] {
    return this.parts.filter((p) => p.state === 'prepared').map((p) => partGid(this.d.uploadId, p.index));
  }

  /** Writes whole rows to the part with the least queued; waits only while every part is full. */
  async write(piece: RowPiece): Promise<void> {
    this.maybeOpen();
    let part = this.parts[0];
    for (const p of this.parts) if (p.queued < part.queued) part = p;
    part.placements.push({ partLine: part.lines, uploadRow: this.rows });
    part.lines += piece.rows;
    this.rows += piece.rows;
    this.bytes += piece.bytes.length;
    if (!part.copy.write(piece.bytes)) {
      part.waiting = this.drained(part);
      part.waiting.catch(() => undefined); // an abort rejects it; the upload's own path reports the cause
    }
    if (this.parts.every((p) => p.waiting)) await Promise.race(this.parts.map((p) => p.waiting));
  }

  /** Ends every part's COPY and waits for the server to have all rows; returns the rows stored. */
  async finish(): Promise<number> {
    this.stopOpening = true;
    await this.opening;
    const done = this.parts.map((p) => eventOrAbort(p.copy, 'finish', this.d.signal));
    for (const p of this.parts) {
      if (this.d.copyFormat === 'binary') p.copy.write(TRAILER);
      p.copy.end();
    }
    await Promise.all(done);
    for (const p of this.parts) p.state = 'ended';
    return this.parts.reduce((n, p) => n + p.copy.rowCount, 0);
  }

  /** PREPARE TRANSACTION on every extra part: after it, each part's rows survive crashes and restarts. */
  async prepare(): Promise<void> {
    await Promise.all(
      this.extras().map(async (p) => {
        await this.statement(p.conn!, `PREPARE TRANSACTION '${partGid(this.d.uploadId, p.index)}'`);
        p.state = 'prepared';
      }),
    );
  }

  /** After the decision: COMMIT PREPARED each part, in order; `between` runs after the first (fault tests). */
  async commit(between?: () => Promise<void>): Promise<void> {
    let first = true;
    for (const p of this.extras()) {
      if (!first) await between?.();
      first = false;
      await this.statement(p.conn!, `COMMIT PREPARED '${partGid(this.d.uploadId, p.index)}'`);
      p.state = 'committed';
    }
    this.release();
  }

  /**
   * The upload failed. Before the decision was sent every part is rolled back (an open COPY with CopyFail, a
   * prepared one with ROLLBACK PREPARED); once it was sent the outcome is the record's, so prepared parts are
   * left to the resolver, which commits them when the record is there. Never throws.
   */
  async abandon(cause: unknown, decisionSent: boolean): Promise<void> {
    this.stopOpening = true;
    await this.opening?.catch(() => undefined);
    await Promise.all(
      this.extras().map(async (p) => {
        const conn = p.conn!;
        try {
          if (p.state === 'copying' || p.state === 'ended') {
            if (p.state === 'copying')
              p.copy.destroy(cause instanceof Error ? cause : new Error(String(cause)));
            if (conn.usable) await this.cleanup(conn, 'ROLLBACK');
            p.state = 'rolled_back';
          } else if (p.state === 'prepared' && !decisionSent && conn.usable) {
            await this.cleanup(conn, `ROLLBACK PREPARED '${partGid(this.d.uploadId, p.index)}'`);
            p.state = 'rolled_back';
          }
        } catch (err) {
          conn.markUnusable();
          this.d.log.warn({ err, part: p.index }, 'could not roll back an upload part; the resolver will');
        }
      }),
    );
    const left = this.preparedGids;
    if (left.length) this.d.log.warn({ gids: left }, 'upload parts left prepared for the resolver');
    this.release();
  }

  /**
   * A COPY error of part `index` with its line number made the upload's row number ("line 7" of part 2 may be
   * row 70 007 of the upload), so the 400 names the row the client sent.
   */
  globalize(err: unknown, index: number): unknown {
    const part = this.parts[index];
    const where = (err as { where?: unknown })?.where;
    if (!part || typeof where !== 'string') return err;
    const renumbered = where.replace(/^(COPY .*?, line )(\d+)/m, (_m, head: string, n: string) => {
      const line = Number(n);
      let at = part.placements[0];
      for (const p of part.placements) if (p.partLine < line) at = p;
      return `${head}${at ? at.uploadRow + (line - at.partLine) : line}`;
    });
    // The error is this upload's own: renumber it in place (a copy would lose its non-enumerable message).
    (err as { where: string }).where = renumbered;
    return err;
  }

  private extras(): Part[] {
    return this.parts.slice(1);
  }

  private begin(part: Part): void {
    if (this.d.copyFormat === 'binary') part.copy.write(PGCOPY_HEADER);
  }

  private maybeOpen(): void {
    const { maxParts, partBytes, gate } = this.d.options;
    if (this.opening || this.stopOpening || this.parts.length >= maxParts) return;
    if (this.bytes < partBytes * this.parts.length) return;
    if (!gate.tryTakePart()) return;
    this.opening = this.open()
      .catch((err) => {
        gate.givePart();
        // A part that could not open holds nothing: the upload goes on with the parts it has.
        this.d.log.warn({ err }, 'could not open another COPY part; continuing with fewer');
      })
      .finally(() => {
        this.opening = undefined;
        // The body may have grown past the next part's share while this one opened.
        this.maybeOpen();
      });
  }

  private async open(): Promise<void> {
    const { pool, signal } = this.d;
    // Never wait for a pool connection: a full pool means the worker is busy, and splitting would not pay.
    if (pool.totalCount >= (pool.options.max ?? 10) && pool.idleCount === 0)
      throw new Error('upload pool is full');
    const client = await pool.connect();
    const conn = new HeldConnection(client, (err) => this.d.fail(err));
    try {
      await this.statement(conn, 'BEGIN');
      if (signal.aborted || this.stopOpening) throw new Error('the upload ended while a part was opening');
    } catch (err) {
      conn.markUnusable();
      conn.release();
      throw err;
    }
    const index = this.parts.length;
    const copy = conn.client.query(copyFrom(this.d.copySql));
    copy.on('error', (err: Error) => {
      conn.markUnusable();
      this.d.fail(this.globalize(err, index));
    });
    const part = new Part(index, copy, conn);
    this.begin(part);
    this.parts.push(part);
    this.d.log.debug({ part: index, afterBytes: this.bytes }, 'COPY part opened');
  }

  /** Gives every extra part's connection back (destroyed when its state is unknown). Idempotent. */
  release(): void {
    for (const p of this.extras()) {
      if (!p.conn?.held) continue;
      // A part that is neither finished nor rolled back has a reply or a transaction still open.
      if (p.state === 'copying' || p.state === 'ended') p.conn.markUnusable();
      p.conn.release();
      this.d.options.gate.givePart();
    }
  }

  private drained(part: Part): Promise<void> {
    return eventOrAbort(part.copy, 'drain', this.d.signal).then(() => {
      part.waiting = undefined;
    });
  }

  private async statement(conn: HeldConnection, sql: string): Promise<void> {
    await withDeadline(conn.client.query(sql), this.d.statementTimeoutMs, () => {
      conn.markUnusable();
      throw new Error(
        `${sql.split(' ')[0]} on an upload part took longer than ${this.d.statementTimeoutMs} ms`,
      );
    });
  }

  private async cleanup(conn: HeldConnection, sql: string): Promise<void> {
    try {
      await this.statement(conn, sql);
    } catch (err) {
      conn.markUnusable();
      throw err;
    }
  }
}

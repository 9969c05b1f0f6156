// Finishes the parts a worker left prepared (it crashed, or PostgreSQL restarted, between PREPARE TRANSACTION
// and the last COMMIT PREPARED; see parts.ts). The upload record is the decision: a part is committed when its
// upload's record is committed, rolled back when it is not, and left alone while the upload's coordinator still
// runs (it holds the upload's parts lock for its whole transaction). Run at start, on a timer, and before a
// replay answers for a split upload. Idempotent: two workers resolving at once both decide the same.
import { escapeLiteral, type Pool, type PoolClient } from 'pg';
import type { Logger } from 'pino';

const GID = /^ph:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}):(\d+)$/;

/** The prepared transaction name of part `index` of an upload. */
export function partGid(uploadId: string, index: number): string {
  return `ph:${uploadId}:${index}`;
}

/** Taken by the coordinator in its BEGIN; free again once its transaction (the decision) is over. */
export function partsLockSql(
  uploadId: string,
  fn: 'pg_advisory_xact_lock' | 'pg_try_advisory_xact_lock',
): string {
  return `SELECT ${fn}(hashtextextended(${escapeLiteral(`powerhouse.upload-parts:${uploadId}`)}, 0))`;
}

export interface Resolution {
  readonly committed: string[];
  readonly rolledBack: string[];
  /** Parts of uploads still running: their coordinator decides. */
  readonly running: string[];
}

/**
 * Resolves every orphaned part in this database, or only those of `uploadId`; `skip` names uploads to leave to
 * their own coordinator (the watch passes this worker's live uploads: they finish their parts themselves).
 */
export async function resolvePreparedParts(
  pool: Pool,
  log: Logger,
  uploadId?: string,
  skip: (uploadId: string) => boolean = () => false,
): Promise<Resolution> {
  const out: Resolution = { committed: [], rolledBack: [], running: [] };
  const client = await pool.connect();
  let broken = false;
  try {
    const pattern = uploadId ? `ph:${uploadId}:%` : 'ph:%';
    const { rows } = await client.query<{ gid: string }>(
      `SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND gid LIKE $1 ORDER BY gid`,
      [pattern],
    );
    const byUpload = new Map<string, string[]>();
    for (const { gid } of rows) {
      const m = GID.exec(gid);
      if (m) byUpload.set(m[1], [...(byUpload.get(m[1]) ?? []), gid]);
    }
    for (const [id, gids] of byUpload) {
      const decision = skip(id) ? 'running' : await decide(client, id);
      if (decision === 'running') {
        out.running.push(...gids);
        continue;
      }
      for (const gid of gids) {
        const sql = `${decision === 'commit' ? 'COMMIT' : 'ROLLBACK'} PREPARED ${escapeLiteral(gid)}`;
        try {
          await client.query(sql);
          (decision === 'commit' ? out.committed : out.rolledBack).push(gid);
        } catch (err) {
          // 42704: another worker (or the coordinator itself) finished it first.
          if ((err as { code?: string }).code !== '42704') throw err;
        }
      }
    }
  } catch (err) {
    broken = true;
    throw err;
  } finally {
    client.release(broken ? new Error('resolver failed') : undefined);
  }
  if (out.committed.length || out.rolledBack.length)
    log.warn(out, 'resolved upload parts left prepared by an interrupted upload');
  return out;
}

/**
 * Lock first, then the record, in two statements: each sees the database as of its own start, so a record
 * committed just before the lock came free is seen (one statement would read it from before the lock).
 */
async function decide(client: PoolClient, uploadId: string): Promise<'commit' | 'rollback' | 'running'> {
  const results = (await client.query(
    `BEGIN;
     ${partsLockSql(uploadId, 'pg_try_advisory_xact_lock')} AS free;
     SELECT EXISTS (SELECT 1 FROM powerhouse.uploads
                     WHERE upload_id = ${escapeLiteral(uploadId)} AND status = 'committed') AS decided;
     COMMIT`,
  )) as unknown as [unknown, { rows: [{ free: boolean }] }, { rows: [{ decided: boolean }] }, unknown];
  if (!results[1].rows[0].free) return 'running';
  return results[2].rows[0].decided ? 'commit' : 'rollback';
}

/** How often a worker looks for parts left prepared (a crash's, or another worker's that died). */
export const PREPARED_PARTS_CHECK_MS = 30_000;

/**
 * At start: whether PostgreSQL can prepare at all (max_prepared_transactions > 0; else parallel COPY is off), and
 * the parts an earlier run left; then every intervalMs (limits.preparedPartsCheckMs). A failed round (the
 * database away, or PgBouncer still refusing logins after a PostgreSQL restart) waits for the next.
 */
export class PreparedPartsWatch {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly pool: Pool,
    private readonly log: Logger,
    private readonly intervalMs: number,
    /** Uploads running in this worker: after their decision they commit their own parts. */
    private readonly isLive: (uploadId: string) => boolean = () => false,
  ) {}

  /** Resolves once and starts the timer; returns max_prepared_transactions. */
  async start(): Promise<number> {
    const { rows } = await this.pool.query<{ max_prepared_transactions: string }>(
      'SHOW max_prepared_transactions',
    );
    await this.round();
    this.timer = setInterval(() => void this.round(), this.intervalMs);
    this.timer.unref();
    return Number(rows[0].max_prepared_transactions);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async round(): Promise<void> {
    try {
      await resolvePreparedParts(this.pool, this.log, undefined, this.isLive);
    } catch (err) {
      this.log.warn({ err }, 'could not resolve prepared upload parts; trying again later');
    }
  }
}

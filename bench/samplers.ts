// What happens while a scenario runs, sampled every few hundred ms: the worker's resident memory, how many
// PostgreSQL backends exist and what they wait on (pg_stat_activity), and how long clients queue in
// PgBouncer (SHOW POOLS maxwait). Sampling connections are opened before the run and excluded from counts.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { Client } from 'pg';

export interface WaitEventShare {
  /** `type:event`, or `CPU` for an active backend with no wait event. */
  event: string;
  /** Backend-samples seen in this state. */
  samples: number;
  share: number;
}

export interface SampleSummary {
  samples: number;
  /** Max of sampled VmRSS and the kernel's high-water mark (reset at start), MiB; null without a pid. */
  workerPeakRssMiB: number | null;
  /** Peak client backends in PostgreSQL (all databases, this sampler excluded). */
  peakPgConnections: number;
  /** Peak backends running COPY at once. */
  peakCopies: number;
  /** Max of SHOW POOLS maxwait over the ingest pool, ms; null without PgBouncer. */
  bouncerMaxWaitMs: number | null;
  bouncerMaxClientsWaiting: number | null;
  /** What active client backends were doing, busiest first. */
  waitEvents: WaitEventShare[];
}

export interface SamplerOptions {
  superuserUrl: string;
  /**
   * Role whose COPY transactions to record: each one's xact_start (when its BEGIN ran) is kept, to time how
   * long an upload waited before the worker began reading its body.
   */
  copyRole?: string;
  /** PgBouncer admin console URL (database "pgbouncer"), e.g. the stats user's. */
  bouncerAdminUrl?: string;
  /** PgBouncer pool (database name) whose maxwait counts. */
  bouncerPool?: string;
  workerPid?: number | null;
  intervalMs?: number;
}

const kib = (status: string, field: string): number | null => {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return m ? Number(m[1]) : null;
};

/** VmRSS and VmHWM of a process in KiB (null when it is gone). */
export function readRss(pid: number): { rssKiB: number; hwmKiB: number } | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return { rssKiB: kib(s, 'VmRSS') ?? 0, hwmKiB: kib(s, 'VmHWM') ?? 0 };
  } catch {
    return null;
  }
}

/** Resets the kernel's VmHWM to the current RSS (Linux >= 4.0; needs the right to write clear_refs). */
export function resetPeakRss(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

const ACTIVITY_SQL = `
SELECT count(*)::int AS conns,
       count(*) FILTER (WHERE query ILIKE 'copy %' AND state = 'active')::int AS copies,
       coalesce(json_agg(CASE WHEN wait_event IS NULL THEN 'CPU' ELSE wait_event_type || ':' || wait_event END)
                FILTER (WHERE state = 'active'), '[]') AS events
  FROM pg_stat_activity
 WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`;

// xact_start is PostgreSQL's own timestamp of the transaction's first statement: exact, however coarse the
// sampling, as long as each COPY is seen once while it runs.
const COPY_STARTS_SQL = `
SELECT pid, (extract(epoch FROM xact_start) * 1000)::float8 AS ms
  FROM pg_stat_activity
 WHERE usename = $1 AND backend_type = 'client backend' AND xact_start IS NOT NULL AND query ILIKE 'copy %'`;

export class ScenarioSampler {
  private pg?: Client;
  private bouncer?: Client;
  private timer?: NodeJS.Timeout;
  private busy = false;
  private n = 0;
  private peakRssKiB = 0;
  private peakConns = 0;
  private peakCopies = 0;
  private maxWaitUs: number | null = null;
  private maxClWaiting: number | null = null;
  private readonly events = new Map<string, number>();
  private hwmReset = false;
  /** `pid:xact_start` → xact_start (epoch ms) of every COPY transaction of copyRole seen. */
  private readonly copyStarts = new Map<string, number>();
  private readonly errors: string[] = [];

  constructor(private readonly opts: SamplerOptions) {}

  async start(): Promise<void> {
    this.pg = new Client({ connectionString: this.opts.superuserUrl, application_name: 'bench-sampler' });
    this.pg.on('error', () => undefined);
    await this.pg.connect();
    if (this.opts.bouncerAdminUrl) {
      this.bouncer = new Client({ connectionString: this.opts.bouncerAdminUrl });
      this.bouncer.on('error', () => undefined);
      await this.bouncer.connect();
      this.maxWaitUs = 0;
      this.maxClWaiting = 0;
    }
    const pid = this.opts.workerPid;
    if (pid) {
      this.hwmReset = resetPeakRss(pid);
      this.peakRssKiB = readRss(pid)?.rssKiB ?? 0;
    }
    this.timer = setInterval(() => void this.sample(), this.opts.intervalMs ?? 200);
    await this.sample();
  }

  private async sample(): Promise<void> {
    if (this.busy) return; // a slow sample (server saturated) is skipped, not queued
    this.busy = true;
    try {
      const pid = this.opts.workerPid;
      if (pid) {
        const r = readRss(pid);
        if (r) this.peakRssKiB = Math.max(this.peakRssKiB, r.rssKiB);
      }
      const a = await this.pg!.query<{ conns: number; copies: number; events: string[] }>(ACTIVITY_SQL);
      const row = a.rows[0];
      this.peakConns = Math.max(this.peakConns, row.conns);
      this.peakCopies = Math.max(this.peakCopies, row.copies);
      for (const e of row.events) this.events.set(e, (this.events.get(e) ?? 0) + 1);
      if (this.opts.copyRole) {
        const c = await this.pg!.query<{ pid: number; ms: number }>(COPY_STARTS_SQL, [this.opts.copyRole]);
        for (const { pid, ms } of c.rows) this.copyStarts.set(`${pid}:${ms}`, Number(ms));
      }
      if (this.bouncer) {
        const pools = await this.bouncer.query('SHOW POOLS');
        for (const p of pools.rows as Record<string, string>[]) {
          if (this.opts.bouncerPool && p.database !== this.opts.bouncerPool) continue;
          const us = Number(p.maxwait) * 1e6 + Number(p.maxwait_us ?? 0);
          this.maxWaitUs = Math.max(this.maxWaitUs ?? 0, us);
          this.maxClWaiting = Math.max(this.maxClWaiting ?? 0, Number(p.cl_waiting));
        }
      }
      this.n++;
    } catch (err) {
      if (this.errors.length < 5) this.errors.push((err as Error).message);
    } finally {
      this.busy = false;
    }
  }

  /** Start times (epoch ms, ascending) of the COPY transactions of copyRole seen so far. */
  copyTransactionStarts(): number[] {
    return [...this.copyStarts.values()].sort((a, b) => a - b);
  }

  async stop(): Promise<SampleSummary> {
    clearInterval(this.timer);
    while (this.busy) await new Promise((r) => setTimeout(r, 10));
    await this.sample();
    const pid = this.opts.workerPid;
    let peakKiB: number | null = null;
    if (pid) {
      const r = readRss(pid);
      // VmHWM is the exact peak since the reset; without a reset it would include earlier scenarios.
      peakKiB = Math.max(this.peakRssKiB, this.hwmReset && r ? r.hwmKiB : 0);
    }
    await this.pg?.end().catch(() => undefined);
    await this.bouncer?.end().catch(() => undefined);
    const total = [...this.events.values()].reduce((a, b) => a + b, 0);
    const waitEvents = [...this.events.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([event, samples]) => ({ event, samples, share: total ? samples / total : 0 }));
    if (this.n === 0 && this.errors.length) throw new Error(`sampling failed: ${this.errors.join('; ')}`);
    return {
      samples: this.n,
      workerPeakRssMiB: peakKiB === null ? null : Math.round((peakKiB / 1024) * 10) / 10,
      peakPgConnections: this.peakConns,
      peakCopies: this.peakCopies,
      bouncerMaxWaitMs: this.maxWaitUs === null ? null : Math.round(this.maxWaitUs / 100) / 10,
      bouncerMaxClientsWaiting: this.maxClWaiting,
      waitEvents,
    };
  }
}

/** One summary of several runs of the same scenario: peaks are maxima, wait-event shares re-weighted. */
export function mergeSamples(all: readonly SampleSummary[]): SampleSummary {
  const peak = (pick: (s: SampleSummary) => number | null): number | null => {
    const v = all.map(pick).filter((x): x is number => x !== null);
    return v.length ? Math.max(...v) : null;
  };
  const events = new Map<string, number>();
  for (const s of all)
    for (const e of s.waitEvents) events.set(e.event, (events.get(e.event) ?? 0) + e.samples);
  const total = [...events.values()].reduce((a, b) => a + b, 0);
  return {
    samples: all.reduce((a, s) => a + s.samples, 0),
    workerPeakRssMiB: peak((s) => s.workerPeakRssMiB),
    peakPgConnections: peak((s) => s.peakPgConnections) ?? 0,
    peakCopies: peak((s) => s.peakCopies) ?? 0,
    bouncerMaxWaitMs: peak((s) => s.bouncerMaxWaitMs),
    bouncerMaxClientsWaiting: peak((s) => s.bouncerMaxClientsWaiting),
    waitEvents: [...events.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([event, samples]) => ({ event, samples, share: total ? samples / total : 0 })),
  };
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** User and system CPU seconds a process has used so far (proc(5) stat fields 14 and 15, in clock ticks). */
export function processCpuSeconds(pid: number): { user: number; system: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // After "pid (comm) " the state is field 3, so utime and stime are at indexes 11 and 12.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) / CLOCK_TICKS, system: Number(f[12]) / CLOCK_TICKS };
}

/** The most frequent wait events of a sample count, as "Lock:extend 51%, …" for the reports. */
export function topWaits(counts: ReadonlyMap<string, number> | undefined, n = 3): string {
  if (!counts) return '';
  const total = [...counts.values()].reduce((a, b) => a + b, 0) || 1;
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${k} ${Math.round((100 * v) / total)}%`)
    .join(', ');
}

/** A running wait-event sample of the COPY backends of one side: psql's (by name) or the worker's. */
export interface WaitEventSampler {
  /** Backend-samples per `type:event` (or CPU), complete after stop(). */
  readonly counts: Map<string, number>;
  stop(): Promise<void>;
}

/**
 * Samples pg_stat_activity every 100 ms on its own connection: psql's sessions by their application name, the
 * worker's COPY sessions by their statement (PgBouncer hides the client's name). A sampler that loses its
 * connection (the stack stopping after a failure) ends quietly: it must not hide that failure.
 */
export async function waitEventSampler(superuserUrl: string, endpoint: boolean): Promise<WaitEventSampler> {
  const c = new Client({ connectionString: superuserUrl, application_name: 'bench-sampler' });
  c.on('error', () => undefined);
  await c.connect();
  const counts = new Map<string, number>();
  let done = false;
  const loop = (async () => {
    while (!done) {
      const r = await c.query<{ e: string }>(
        `SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS e FROM pg_stat_activity
          WHERE state = 'active' AND backend_type = 'client backend'
            AND (CASE WHEN $1 THEN query ILIKE 'COPY %' AND application_name <> 'bench-psql-copy'
                      ELSE application_name = 'bench-psql-copy' END)`,
        [endpoint],
      );
      for (const { e } of r.rows) counts.set(e, (counts.get(e) ?? 0) + 1);
      await new Promise((res) => setTimeout(res, 100));
    }
  })().catch(() => undefined);
  return {
    counts,
    stop: async () => {
      done = true;
      await loop;
      await c.end().catch(() => undefined);
    },
  };
}

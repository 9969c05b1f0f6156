// The soak's fault injector: at random intervals, one real fault to one real process of the stack, then
// (where the fault leaves it down) starting it again, as an operator or systemd would.
import { sleep } from '../tests/reliability/http-client';
import type { LiveStack } from '../tests/reliability/live-stack';

export const FAULT_KINDS = [
  'worker SIGKILL',
  'worker SIGTERM (graceful restart)',
  'PostgreSQL fast restart',
  'PostgreSQL immediate restart',
  'PostgreSQL SIGKILL',
  'PgBouncer SIGKILL',
  'PgBouncer SIGTERM (immediate shutdown)',
  'PgBouncer safe restart',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

async function inject(live: LiveStack, kind: FaultKind): Promise<void> {
  const { stack } = live;
  const bouncer = stack.bouncer!;
  switch (kind) {
    case 'worker SIGKILL':
      return stack.restartWorker('kill');
    case 'worker SIGTERM (graceful restart)':
      return stack.restartWorker('graceful');
    case 'PostgreSQL fast restart':
      return stack.pg.restart('fast');
    case 'PostgreSQL immediate restart':
      return stack.pg.restart('immediate');
    case 'PostgreSQL SIGKILL':
      await stack.pg.kill();
      return stack.pg.restart('fast'); // already down: a plain start, with crash recovery
    case 'PgBouncer SIGKILL':
      await bouncer.kill();
      return bouncer.restart();
    case 'PgBouncer SIGTERM (immediate shutdown)': {
      process.kill(bouncer.pid, 'SIGTERM');
      const deadline = Date.now() + 10_000;
      while (bouncer.running && Date.now() < deadline) await sleep(10);
      return bouncer.restart();
    }
    case 'PgBouncer safe restart':
      return bouncer.restart();
  }
}

export interface FaultLog {
  injected: Record<string, number>;
  /** A fault whose own restart step failed (the stack was then repaired, or the soak fails). */
  failures: string[];
}

/** Injects faults every `minGapMs`…`maxGapMs` until `stop()`; returns what it did. */
export async function faultLoop(
  live: LiveStack,
  rnd: () => number,
  stop: () => boolean,
  gap: { minMs: number; maxMs: number },
  log: FaultLog,
): Promise<void> {
  for (;;) {
    const wait = gap.minMs + Math.floor(rnd() * (gap.maxMs - gap.minMs));
    const until = Date.now() + wait;
    while (Date.now() < until && !stop()) await sleep(100);
    if (stop()) return;
    const kind = FAULT_KINDS[Math.floor(rnd() * FAULT_KINDS.length)];
    const t0 = Date.now();
    try {
      await inject(live, kind);
      if (process.env.SOAK_VERBOSE) console.log(`fault: ${kind} (${Date.now() - t0} ms)`);
      log.injected[kind] = (log.injected[kind] ?? 0) + 1;
    } catch (err) {
      log.failures.push(`${kind}: ${(err as Error).message.split('\n')[0]}`);
      if (process.env.SOAK_VERBOSE) console.log(`fault step failed: ${kind}: ${(err as Error).message}`);
      log.injected[kind] = (log.injected[kind] ?? 0) + 1;
      await repair(live);
    }
  }
}

/** Brings every process back up after a fault step failed half-way. */
export async function repair(live: LiveStack): Promise<void> {
  const { stack } = live;
  if (!stack.pg.running) await stack.pg.restart('fast');
  if (stack.bouncer && !stack.bouncer.running) await stack.bouncer.restart();
  const ok = await fetch(`${stack.ingestUrl}/healthz`).then(
    (r) => r.ok,
    () => false,
  );
  // The worker exits at start when the database does not answer yet (systemd restarts it): so do we.
  for (let attempt = 1; !ok; attempt++) {
    try {
      await stack.restartWorker('kill');
      return;
    } catch (err) {
      if (attempt >= 10) throw err;
      await sleep(2000);
    }
  }
}

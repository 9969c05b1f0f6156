// The verdict of the parity test on one case: what COPY did, what the endpoint did, and whether that is the
// same or exactly the documented deviation the case names. Pure, so the test can also show that it fails.
import type { Deviation, DeviationEffect } from '../../../ingest/formats/deviations';
import type { ParityCase } from './parity-corpus';

export interface Outcome {
  accepted: boolean;
  /** Stored rows (accepted only): each column of the case as PostgreSQL's text, null for NULL. */
  rows?: (string | null)[][];
  /** The error message (COPY) or the HTTP status and body (endpoint), for reports. */
  detail: string;
  /** HTTP status (endpoint only). */
  status?: number;
}

export type Effect = 'same' | DeviationEffect;

export interface Verdict {
  effect: Effect;
  /** Why the case fails the test; undefined when it passes. */
  problem?: string;
}

export function effectOf(pg: Outcome, worker: Outcome): Effect {
  if (pg.accepted && worker.accepted)
    return JSON.stringify(pg.rows) === JSON.stringify(worker.rows) ? 'same' : 'rows-differ';
  if (pg.accepted) return 'worker-refuses';
  if (worker.accepted) return 'worker-accepts';
  return 'same';
}

export function judge(
  c: ParityCase,
  pg: Outcome,
  worker: Outcome,
  deviations: ReadonlyMap<string, Deviation>,
): Verdict {
  const effect = effectOf(pg, worker);
  const seen = `COPY: ${pg.detail.slice(0, 200)}; endpoint: ${worker.detail.slice(0, 200)}`;
  if (worker.status !== undefined && worker.status >= 500)
    return { effect, problem: `the endpoint answered ${worker.status} (${seen})` };
  if (!c.deviation) {
    return effect === 'same'
      ? { effect }
      : { effect, problem: `differs from COPY (${effect}) but names no deviation: ${seen}` };
  }
  const d = deviations.get(c.deviation);
  if (!d) return { effect, problem: `names deviation "${c.deviation}", which the list does not have` };
  if (!d.formats.includes(c.format))
    return { effect, problem: `deviation "${d.id}" is not listed for ${c.format.toUpperCase()}` };
  if (effect === 'same')
    return { effect, problem: `names deviation "${d.id}" but COPY and the endpoint agree: ${seen}` };
  if (!d.effects.includes(effect))
    return {
      effect,
      problem: `deviation "${d.id}" documents ${d.effects.join('/') || 'no observable effect'}, seen ${effect}: ${seen}`,
    };
  return { effect };
}

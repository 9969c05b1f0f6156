// Named points in the upload path where a fault test stops the worker, to kill it (SIGKILL) or restart
// PostgreSQL under it at exactly that moment. Off unless POWERHOUSE_FAILPOINTS names them (comma-separated, read
// once at start); a point reached logs "failpoint reached" and waits until the process gets SIGUSR2, once.
import type { Logger } from 'pino';

export type FailpointName =
  | 'parts-copied' // every part's COPY done, before PREPARE TRANSACTION
  | 'parts-prepared' // every extra part prepared, before the decision
  | 'parts-decided' // the upload record committed, before any COMMIT PREPARED
  | 'parts-between-commits'; // after the first COMMIT PREPARED, before the next

const armed = new Set((process.env.POWERHOUSE_FAILPOINTS ?? '').split(',').filter(Boolean));
const waiting: (() => void)[] = [];
if (armed.size > 0) {
  process.on('SIGUSR2', () => {
    for (const resume of waiting.splice(0)) resume();
  });
}

/**
 * Stops here once per process when armed (a retry on the same worker then runs through); gives way to the
 * upload's abort (a shutdown's grace period ending), so a stopped upload never holds the worker's exit.
 */
export function failpoint(name: FailpointName, log: Logger, signal: AbortSignal): Promise<void> | undefined {
  if (!armed.delete(name)) return undefined;
  log.warn({ failpoint: name }, 'failpoint reached');
  return new Promise<void>((resolve, reject) => {
    waiting.push(resolve);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

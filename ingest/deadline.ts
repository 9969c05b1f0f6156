// The one way the worker bounds a wait: a promise against a timer (and optionally an abort signal), the timer
// always cleared, the abandoned promise's late rejection always handled.

export interface DeadlineOptions {
  /** Also give up when this signal aborts: the result rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
  /** Called when the wait is given up because of `signal` (before the rejection). */
  readonly onAbort?: () => void;
}

/**
 * Settles like `promise`, unless `ms` pass first: then settles like `onTimeout()` (its value, or what it
 * throws). `ms` undefined: no timer (only `signal` bounds the wait). The timer does not keep the process
 * alive; a rejection of `promise` after the deadline is swallowed (whoever gave up has already answered).
 */
export function withDeadline<T, U = never>(
  promise: Promise<T>,
  ms: number | undefined,
  onTimeout: () => U,
  opts: DeadlineOptions = {},
): Promise<T | U> {
  const { signal, onAbort } = opts;
  promise.catch(() => undefined);
  if (signal?.aborted) {
    onAbort?.();
    return Promise.reject(signal.reason);
  }
  return new Promise<T | U>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const settle = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', aborted);
    };
    const aborted = () => {
      settle();
      onAbort?.();
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', aborted, { once: true });
    if (ms !== undefined) {
      timer = setTimeout(() => {
        settle();
        try {
          resolve(onTimeout());
        } catch (err) {
          reject(err);
        }
      }, ms);
      timer.unref();
    }
    promise.then(
      (value) => {
        settle();
        resolve(value);
      },
      (err: unknown) => {
        settle();
        reject(err);
      },
    );
  });
}

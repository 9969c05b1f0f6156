// When to try an upload again and how long to wait: exponential backoff with full jitter (so 40 desktop
// clients that lost the same worker do not come back in lockstep), never sooner than the server's Retry-After.

export interface RetryPolicy {
  /** Attempts in total, the first included (default 8: about 25 s of waiting on average, 50 s at most). */
  maxAttempts?: number;
  /** Backoff base: after failure n, wait a random time in [0, min(maxDelayMs, baseDelayMs * 2^(n-1))) (default 500). */
  baseDelayMs?: number;
  /** Cap of the backoff (default 20 000); a longer Retry-After from the server is still honoured. */
  maxDelayMs?: number;
}

/** Told before each wait between attempts. */
export interface RetryInfo {
  /** The attempt that just failed (1-based). */
  attempt: number;
  maxAttempts: number;
  /** How long until the next attempt. */
  delayMs: number;
  /** What failed: "HTTP 503 unavailable: …" or "ECONNRESET: …". */
  reason: string;
}

export const DEFAULT_RETRY: Required<RetryPolicy> = { maxAttempts: 8, baseDelayMs: 500, maxDelayMs: 20_000 };

export function resolveRetryPolicy(p: RetryPolicy | undefined): Required<RetryPolicy> {
  const r = { ...DEFAULT_RETRY, ...(p ?? {}) };
  if (!Number.isInteger(r.maxAttempts) || r.maxAttempts < 1)
    throw new TypeError(`retry.maxAttempts must be a whole number >= 1, got ${r.maxAttempts}`);
  if (!(r.baseDelayMs >= 0) || !(r.maxDelayMs >= 0))
    throw new TypeError('retry.baseDelayMs and retry.maxDelayMs must be >= 0');
  return r;
}

/** Delay before attempt `failed + 1`, after `failed` failures; `retryAfterMs` from the server wins when longer. */
export function retryDelayMs(
  policy: Required<RetryPolicy>,
  failed: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(failed - 1, 30));
  const backoff = Math.floor(random() * ceiling);
  return Math.max(backoff, retryAfterMs ?? 0);
}

/** Retry-After as delta-seconds or an HTTP date (RFC 9110 §10.2.3) -> milliseconds, or undefined. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

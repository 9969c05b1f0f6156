// Flag values parsed once at the edge; a bad one is a UsageError that names the flag and what it got.
import { UsageError } from './usage-error';

/** Any positive number (`--rows 1e6` is fine). */
export function positiveNumber(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError(`--${flag} must be a positive number, got "${text}"`);
  return n;
}

/** A whole number >= 1; `1_000_000` is allowed. */
export function positiveInteger(flag: string, text: string): number {
  const n = Number(text.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`--${flag} must be a whole number >= 1, got "${text}"`);
  return n;
}

/** A TCP port, 0 (pick a free one) to 65535. */
export function portNumber(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError(`--${flag} must be a port number, got "${text}"`);
  return n;
}

// What `powerhouse upload` shows while it sends: a progress bar on a terminal, a line every 2 s otherwise (logs,
// CI), both on stderr. The rate is smoothed over time and the ETA stays blank until it has settled
// (progress-estimate.ts); counts say "1 row" and "2 rows".
import cliProgress from 'cli-progress';
import type { RetryInfo, UploadProgress } from '../ingest/client';
import { counted } from '../config-templates/plural';
import { formatBytes } from '../config-templates/human';
import { type Estimate, etaSeconds, formatDuration, observe, startEstimate } from './progress-estimate';

export const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');

export function retryText(r: RetryInfo): string {
  return `${r.reason}; retrying in ${(r.delayMs / 1000).toFixed(1)} s (attempt ${r.attempt + 1} of ${r.maxAttempts}, same idempotency key)`;
}

/** What the upload is measured against: its file's bytes, or a known number of rows (--generate). */
export interface ProgressTotal {
  rows?: number;
  bytes?: number;
}

/** The smoothed rows/s and, for the ETA, the progress of whatever the total counts (file bytes or rows). */
export interface ProgressView {
  rows: number;
  bytes: number;
  /** Smoothed rows per second, undefined before the first measured interval. */
  rate: number | undefined;
  /** 0..1 of the total, when there is one. */
  fraction: number | undefined;
  /** Seconds left, undefined until stable. */
  eta: number | undefined;
  attempt: number;
}

/** Folds the SDK's progress reports into a ProgressView; a retry (new attempt) starts the estimates afresh. */
export class ProgressTracker {
  private attempt = 0;
  private rows: Estimate = startEstimate();
  private done: Estimate = startEstimate();

  constructor(private readonly total: ProgressTotal) {}

  /** The total the bar counts to: the file's size, or the rows to generate. */
  get goal(): number | undefined {
    return this.total.bytes ?? this.total.rows;
  }

  update(p: UploadProgress): ProgressView {
    if (p.attempt !== this.attempt) {
      this.attempt = p.attempt;
      this.rows = startEstimate();
      this.done = startEstimate();
    }
    const value = this.total.bytes !== undefined ? (p.fileBytes ?? 0) : p.rows;
    this.rows = observe(this.rows, p.elapsedMs, p.rows);
    this.done = observe(this.done, p.elapsedMs, value);
    const goal = p.fileSize ?? this.goal;
    return {
      rows: p.rows,
      bytes: p.bytes,
      rate: this.rows.rate,
      fraction: goal ? Math.min(1, value / goal) : undefined,
      eta: p.done ? undefined : etaSeconds(this.done, goal),
      attempt: p.attempt,
    };
  }
}

const rateText = (v: ProgressView) => (v.rate === undefined ? '–' : fmtInt(v.rate));

/** The line printed every 2 s when stderr is not a terminal. */
export function progressLine(v: ProgressView, total: ProgressTotal): string {
  const of =
    v.fraction === undefined
      ? ''
      : total.bytes !== undefined
        ? ` (${Math.floor(v.fraction * 100)}% of the file)`
        : total.rows
          ? ` of ${fmtInt(total.rows)}`
          : '';
  const eta = v.eta === undefined ? '' : `, ETA ${formatDuration(v.eta)}`;
  const attempt = v.attempt > 1 ? `, attempt ${v.attempt}` : '';
  return `uploading: ${counted(v.rows, 'row')}${of}, ${formatBytes(v.bytes)}, ${rateText(v)} rows/s${eta}${attempt}`;
}

export interface ProgressReporter {
  onProgress: (p: UploadProgress) => void;
  onRetry: (r: RetryInfo) => void;
  stop: () => void;
}

/** A progress bar on a terminal; a line every 2 s otherwise. Both on stderr. */
export function progressReporter(total: ProgressTotal, err = process.stderr): ProgressReporter {
  const tracker = new ProgressTracker(total);
  if (err.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: err,
        format: '{bar} {percentage}% | {rowsText} | {rateText} rows/s | {bytesText}{etaText}{attemptText}',
        hideCursor: true,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      onProgress(p) {
        const v = tracker.update(p);
        const payload = {
          rowsText: counted(v.rows, 'row'),
          rateText: rateText(v),
          bytesText: formatBytes(v.bytes),
          etaText: v.eta === undefined ? '' : ` | ETA ${formatDuration(v.eta)}`,
          attemptText: v.attempt > 1 ? ` | attempt ${v.attempt}` : '',
        };
        // The bar counts what the total counts; without a total it only shows the counters.
        const goal = p.fileSize ?? tracker.goal ?? 1;
        const value = p.done ? goal : p.fileSize !== undefined ? (p.fileBytes ?? 0) : Math.min(p.rows, goal);
        if (!started) {
          bar.start(goal, value, payload);
          started = true;
        } else bar.update(value, payload);
      },
      onRetry(r) {
        if (started) bar.update({ attemptText: ` | ${retryText(r)}` });
        else err.write(`${retryText(r)}\n`);
      },
      stop: () => {
        if (started) bar.stop();
      },
    };
  }
  let last = Date.now(); // a first line after 2 s: a quick upload prints only its summary
  return {
    onRetry: (r) => err.write(`${retryText(r)}\n`),
    onProgress(p) {
      if (p.done) return;
      const v = tracker.update(p); // every report feeds the estimate, even those not printed
      const now = Date.now();
      if (now - last < 2000) return;
      last = now;
      err.write(`${progressLine(v, total)}\n`);
    },
    stop: () => undefined,
  };
}

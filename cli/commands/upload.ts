// `powerhouse upload FILE --table T` / `powerhouse upload --generate N --table T`: the SDK's uploadFile /
// uploadRows with a progress bar on a terminal (plain lines otherwise), a summary, and exit codes a script
// can branch on.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { TM_COLUMNS, tmRows } from '../../ingest/client/tm-rows';
import {
  fileFormat,
  uploadFile,
  uploadRows,
  UploadAbortedError,
  UploadInputError,
  UploadRejectedError,
  UploadRowError,
  UploadUnavailableError,
  type RetryInfo,
  type UploadProgress,
  type UploadResult,
} from '../../ingest/client';

export const EXIT = {
  ok: 0,
  unexpected: 1,
  usage: 2,
  badData: 3,
  auth: 4,
  unavailable: 5,
  interrupted: 130,
} as const;

const EXIT_HELP = `
Exit codes:
  0    uploaded (or replayed: an earlier attempt with the same --idempotency-key had stored the rows)
  1    unexpected error
  2    usage: bad flags, unreadable file, no token, --idempotency-key already used for other data
  3    the data was refused, nothing stored: a bad row (the message names row, column and file line),
       a bad header or unknown column, a value or body over the server's limit
  4    the token was refused (401), may not write the table (403), or the table is not in the ingest
       allowlist (404)
  5    the ingest endpoint stayed unavailable (network error or 503) through every retry; run the same
       command again with the --idempotency-key it prints: rows are never stored twice
  130  interrupted (Ctrl-C): the upload was cancelled, nothing stored

The token comes from --token or, better (it stays out of the process list), POWERHOUSE_INGEST_TOKEN.
Examples:
  powerhouse upload memories.csv --table tm_entries
  powerhouse upload --generate 1000000 --table tm_entries`;

interface UploadFlags {
  table: string;
  endpoint: string;
  token?: string;
  format?: string;
  idempotencyKey?: string;
  generate?: string;
  seed: string;
  parse: 'local' | 'server';
  columns?: string;
  maxAttempts: string;
  json?: boolean;
}

class UsageError extends Error {}

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');

/** A progress bar on a terminal; a line every few seconds otherwise (logs, CI). Both on stderr. */
function retryText(r: RetryInfo): string {
  return `${r.reason}; retrying in ${(r.delayMs / 1000).toFixed(1)} s (attempt ${r.attempt + 1} of ${r.maxAttempts}, same idempotency key)`;
}

function progressReporter(total: { rows?: number; bytes?: number }): {
  onProgress: (p: UploadProgress) => void;
  onRetry: (r: RetryInfo) => void;
  stop: () => void;
} {
  const err = process.stderr;
  if (err.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: err,
        format:
          '{bar} {percentage}% | {rowsText} rows | {rateText} rows/s | {bytesText} | ETA {eta_formatted}{attemptText}',
        hideCursor: true,
        etaBuffer: 40,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      onProgress(p) {
        const byFile = p.fileSize !== undefined;
        const value = byFile ? (p.fileBytes ?? 0) : p.rows;
        const payload = {
          rowsText: fmtInt(p.rows),
          rateText: fmtInt(p.rate),
          bytesText: fmtBytes(p.bytes),
          attemptText: p.attempt > 1 ? ` | attempt ${p.attempt}` : '',
        };
        if (!started) {
          bar.start((byFile ? p.fileSize : total.rows) ?? 1, value, payload);
          started = true;
        } else bar.update(value, payload);
      },
      onRetry(r) {
        if (started) bar.update({ attemptText: ` | ${retryText(r)}` });
        else err.write(`${retryText(r)}\n`);
      },
      stop: () => started && bar.stop(),
    };
  }
  let last = Date.now(); // a first line after 2 s: a quick upload prints only its summary
  return {
    onRetry: (r) => err.write(`${retryText(r)}\n`),
    onProgress(p) {
      const now = Date.now();
      if (p.done || now - last < 2000) return;
      last = now;
      const of =
        p.fileSize !== undefined
          ? ` (${Math.floor(((p.fileBytes ?? 0) * 100) / Math.max(1, p.fileSize))}% of the file)`
          : total.rows
            ? ` of ${fmtInt(total.rows)}`
            : '';
      err.write(`uploading: ${fmtInt(p.rows)} rows${of}, ${fmtBytes(p.bytes)}, ${fmtInt(p.rate)} rows/s\n`);
    },
    stop: () => undefined,
  };
}

/** "row 5, column "x": msg" -> "msg": the CLI says row, column and line itself. */
function bareMessage(message: string): string {
  return message.replace(/^row \d+(?: \(line \d+\))?(?:, column "(?:[^"\\]|\\.)*")?: /, '');
}

/** The one-line message and exit code for an error. */
export function describeFailure(
  err: unknown,
  table: string,
  idempotencyKey?: string,
): { code: number; message: string } {
  if (err instanceof UsageError) return { code: EXIT.usage, message: err.message };
  if (err instanceof UploadRowError) {
    const where = [`row ${err.row}`];
    if (err.column !== undefined) where.push(`column ${JSON.stringify(err.column)}`);
    if (err.file) where.push(err.line !== undefined ? `${err.file} line ${err.line}` : err.file);
    return {
      code: EXIT.badData,
      message: `bad row (${where.join(', ')}): ${bareMessage(err.message)}; nothing was stored`,
    };
  }
  if (err instanceof UploadInputError)
    return { code: EXIT.badData, message: `${err.message}; nothing was stored` };
  if (err instanceof UploadRejectedError) {
    switch (err.status) {
      case 401:
        return {
          code: EXIT.auth,
          message: 'the token was refused (401): check --token or POWERHOUSE_INGEST_TOKEN',
        };
      case 403:
        return { code: EXIT.auth, message: `this token may not write table "${table}" (403)` };
      case 404:
        return {
          code: EXIT.auth,
          message: `table "${table}" is not in the ingest allowlist of this endpoint (404)`,
        };
      case 400:
      case 413:
        return { code: EXIT.badData, message: `${err.message}; nothing was stored` };
      case 422:
        return {
          code: EXIT.usage,
          message:
            'this --idempotency-key already stored different data (422); use a new key for a new upload',
        };
      default:
        return { code: EXIT.unexpected, message: err.message };
    }
  }
  if (err instanceof UploadUnavailableError) {
    const key = err.key ?? idempotencyKey;
    const again = key ? `\n  run the same command again with --idempotency-key ${key}` : '';
    return {
      code: EXIT.unavailable,
      message: `${err.message.replace(/; trying again with .*$/, '')}${again}`,
    };
  }
  if (err instanceof UploadAbortedError)
    return { code: EXIT.interrupted, message: 'interrupted: upload cancelled, nothing stored' };
  if (err instanceof TypeError) return { code: EXIT.usage, message: err.message };
  const e = err as NodeJS.ErrnoException;
  if (e && (e.code === 'ENOENT' || e.code === 'EACCES' || e.code === 'EISDIR'))
    return { code: EXIT.usage, message: e.message };
  return { code: EXIT.unexpected, message: e instanceof Error ? e.message : String(err) };
}

function summary(r: UploadResult, what: string): string {
  const rate = r.durationMs > 0 ? (r.rows * 1000) / r.durationMs : 0;
  const head = r.replayed
    ? `already stored: ${fmtInt(r.rows)} rows of ${what} were committed by an earlier attempt with this idempotency key (nothing written again)`
    : `uploaded ${fmtInt(r.rows)} rows (${fmtBytes(r.bytes)}) from ${what} to ${r.table} in ${(r.durationMs / 1000).toFixed(1)} s (${fmtInt(rate)} rows/s${r.attempts > 1 ? `, ${r.attempts} attempts` : ''})`;
  return `${head}\n  upload id ${r.uploadId}, idempotency key ${r.idempotencyKey}`;
}

function positiveInt(flag: string, text: string): number {
  const n = Number(text.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`--${flag} must be a whole number >= 1, got "${text}"`);
  return n;
}

async function run(file: string | undefined, o: UploadFlags): Promise<UploadResult & { what: string }> {
  const token = o.token ?? process.env.POWERHOUSE_INGEST_TOKEN;
  if (!token)
    throw new UsageError(
      'no token: set POWERHOUSE_INGEST_TOKEN or pass --token (`powerhouse up` prints one)',
    );
  if (file !== undefined && o.generate !== undefined)
    throw new UsageError('give either FILE or --generate N, not both');
  const columns = o.columns?.split(',').map((c) => c.trim());
  const retry = { maxAttempts: positiveInt('max-attempts', o.maxAttempts) };
  const ac = new AbortController();
  const onSigint = () => ac.abort(new Error('SIGINT'));
  process.once('SIGINT', onSigint);
  try {
    if (o.generate !== undefined) {
      const count = positiveInt('generate', o.generate);
      const seed = positiveInt('seed', o.seed);
      const progress = progressReporter({ rows: count });
      const rows = (function* () {
        for (const r of tmRows(seed, count)) yield [r.tmId, r.source, r.target, r.createdBy];
      })();
      try {
        const what = `${fmtInt(count)} generated TM rows (seed ${seed})`;
        const r = await uploadRows(o.endpoint, token, o.table, rows, {
          columns: [...TM_COLUMNS],
          idempotencyKey: o.idempotencyKey,
          retry,
          signal: ac.signal,
          onProgress: progress.onProgress,
          onRetry: progress.onRetry,
        });
        return { ...r, what };
      } finally {
        progress.stop();
      }
    }
    if (file === undefined) throw new UsageError('give a FILE to upload (or --generate N)');
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch (err) {
      throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
    }
    if (!stat.isFile()) throw new UsageError(`${file} is not a regular file`);
    const format = fileFormat(file, o.format);
    const progress = progressReporter({ bytes: stat.size });
    try {
      const r = await uploadFile(o.endpoint, token, o.table, file, {
        format,
        parse: o.parse,
        columns,
        idempotencyKey: o.idempotencyKey,
        retry,
        signal: ac.signal,
        onProgress: progress.onProgress,
        onRetry: progress.onRetry,
      });
      return { ...r, what: file };
    } finally {
      progress.stop();
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

export function uploadCommand(): Command {
  const cmd = new Command('upload')
    .description('upload a CSV/TSV/NDJSON file (or generated TM rows) to a table through the ingest endpoint')
    .argument('[file]', 'CSV (header line), TSV (PostgreSQL text format, header line) or NDJSON file')
    .requiredOption('--table <name>', 'target table, e.g. tm_entries')
    .option('--endpoint <url>', 'ingest endpoint', 'http://127.0.0.1:8080')
    .option('--token <token>', 'ingest token (default: $POWERHOUSE_INGEST_TOKEN)')
    .addOption(
      new Option('--format <format>', 'file format (default: from the extension)').choices([
        'csv',
        'tsv',
        'ndjson',
      ]),
    )
    .option('--idempotency-key <key>', 'reuse to resume an upload safely (default: a new random key)')
    .option('--columns <a,b,c>', 'the file has no header line: its columns, in order')
    .addOption(
      new Option(
        '--parse <where>',
        'local: parse and encode CSV/NDJSON to binary COPY here; server: send as is',
      )
        .choices(['local', 'server'])
        .default('local'),
    )
    .option('--generate <rows>', 'upload this many generated translation-memory rows instead of a file')
    .option('--seed <n>', 'seed of --generate (same seed, same rows)', '1')
    .option('--max-attempts <n>', 'attempts on network errors and 503 before exit code 5', '8')
    .option('--json', 'print the result as JSON on stdout')
    .addHelpText('after', EXIT_HELP);
  cmd.action(async (file: string | undefined, o: UploadFlags) => {
    // Made here, not in the SDK, so that even a failure before the upload starts can name it.
    o.idempotencyKey ??= randomUUID();
    try {
      const r = await run(file, o);
      const { what, ...result } = r;
      process.stdout.write(o.json ? `${JSON.stringify(result)}\n` : `${summary(r, what)}\n`);
      process.exitCode = EXIT.ok;
    } catch (err) {
      const { code, message } = describeFailure(err, o.table, o.idempotencyKey);
      process.stderr.write(`powerhouse upload: ${message}\n`);
      if (code === EXIT.unexpected && process.env.POWERHOUSE_DEBUG && err instanceof Error)
        process.stderr.write(`${err.stack}\n`);
      process.exitCode = code;
    }
  });
  return cmd;
}

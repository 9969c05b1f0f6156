// `powerhouse upload FILE --table T` / `powerhouse upload --generate N --table T`: the SDK's uploadFile /
// uploadRows with a progress bar on a terminal (plain lines otherwise), a summary, and exit codes a script
// can branch on.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { Command, Option } from 'commander';
import { TM_COLUMNS, tmRows } from '../../ingest/client/tm-rows';
import {
  CertificateTrustError,
  fileFormat,
  uploadFile,
  uploadRows,
  UploadAbortedError,
  UploadInputError,
  UploadRejectedError,
  UploadRowError,
  UploadUnavailableError,
  type UploadResult,
} from '../../ingest/client';
import { positiveInteger } from '../flag-values';
import { counted } from '../../config-templates/plural';
import { fmtInt, progressReporter } from '../upload-progress';
import { formatBytes } from '../../config-templates/human';
import { UsageError } from '../usage-error';
import {
  addEndpointOptions,
  ingestToken,
  resolveEndpoint,
  trustOf,
  type EndpointFlags,
} from '../endpoint-options';

export const EXIT = {
  ok: 0,
  unexpected: 1,
  usage: 2,
  badData: 3,
  auth: 4,
  unavailable: 5,
  certificate: 6,
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
  6    the endpoint's certificate is not the pinned one (--fingerprint / --ca), or none was pinned for a
       self-signed one: nothing was sent
  130  interrupted (Ctrl-C): the upload was cancelled, nothing stored

The token comes from --token or, better (it stays out of the process list), POWERHOUSE_INGEST_TOKEN, or a
connect-info file. Without --endpoint or --connect-info the local stack's DATA_DIR/connect-info.json is used.
Examples:
  powerhouse upload memories.csv --table tm_entries                       (the local stack of npm start)
  powerhouse upload memories.csv --table tm_entries --connect-info anna.json     (written by token add --out)
  POWERHOUSE_INGEST_TOKEN=… powerhouse upload memories.csv --table tm_entries \
    --endpoint https://203.0.113.10 --fingerprint AB:CD:…                  (the stack's connect_info output)
  powerhouse upload --generate 1000000 --table tm_entries`;

interface UploadFlags extends EndpointFlags {
  table: string;
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
  if (err instanceof CertificateTrustError) return { code: EXIT.certificate, message: err.message };
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

/** The line on stdout after an upload (or a replay of one); the average rate over the whole upload. */
export function summary(r: UploadResult, what: string): string {
  const rate = r.durationMs > 0 ? (r.rows * 1000) / r.durationMs : 0;
  const head = r.replayed
    ? `already stored: ${counted(r.rows, 'row')} of ${what} ${r.rows === 1 ? 'was' : 'were'} committed by an earlier attempt with this idempotency key (nothing written again)`
    : `uploaded ${counted(r.rows, 'row')} (${formatBytes(r.bytes)}) from ${what} to ${r.table} in ${(r.durationMs / 1000).toFixed(1)} s (${fmtInt(rate)} rows/s${r.attempts > 1 ? `, ${counted(r.attempts, 'attempt')}` : ''})`;
  return `${head}\n  upload id ${r.uploadId}, idempotency key ${r.idempotencyKey}`;
}

async function run(file: string | undefined, o: UploadFlags): Promise<UploadResult & { what: string }> {
  const endpoint = resolveEndpoint(o);
  const token = ingestToken(o.token, endpoint, process.env, o);
  if (!token)
    throw new UsageError(
      'no token: set POWERHOUSE_INGEST_TOKEN, pass --token or --connect-info FILE (`powerhouse up` prints one)',
    );
  const trust = trustOf(endpoint);
  if (file !== undefined && o.generate !== undefined)
    throw new UsageError('give either FILE or --generate N, not both');
  const columns = o.columns?.split(',').map((c) => c.trim());
  const retry = { maxAttempts: positiveInteger('max-attempts', o.maxAttempts) };
  const ac = new AbortController();
  const onSigint = () => ac.abort(new Error('SIGINT'));
  process.once('SIGINT', onSigint);
  try {
    if (o.generate !== undefined) {
      const count = positiveInteger('generate', o.generate);
      const seed = positiveInteger('seed', o.seed);
      const progress = progressReporter({ rows: count });
      const rows = (function* () {
        for (const r of tmRows(seed, count)) yield [r.tmId, r.source, r.target, r.createdBy];
      })();
      try {
        const what = `${counted(count, 'generated TM row')} (seed ${seed})`;
        const r = await uploadRows(endpoint.url, token, o.table, rows, {
          ...trust,
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
      const r = await uploadFile(endpoint.url, token, o.table, file, {
        ...trust,
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
    .option('--token <token>', 'ingest token (default: $POWERHOUSE_INGEST_TOKEN, or the connect info)')
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
  addEndpointOptions(cmd);
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

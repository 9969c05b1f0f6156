// GET /v1/tables/{table}: the writable columns and their types, with the same auth as uploads and the same
// retries (network errors, 503) as an upload.
import type http from 'node:http';
import { UploadAbortedError, UploadUnavailableError } from './errors';
import { exchange, TransportError } from './http-request';
import { resolveRetryPolicy, retryDelayMs, sleep, type RetryInfo, type RetryPolicy } from './retry-policy';
import { authHeaders, callTrust, endpointUrl, judgeReply } from './send-upload';
import { parseTableSchema, type TableSchema } from './table-schema';
import type { TlsTrustOptions } from './tls-trust';

export interface DescribeOptions extends TlsTrustOptions {
  signal?: AbortSignal;
  retry?: RetryPolicy;
  onRetry?: (info: RetryInfo) => void;
  timeoutMs?: number;
  agent?: http.Agent | false;
}

/** The table's writable columns; UploadRejectedError for 401/403/404 (unknown_table). */
export async function describeTable(
  endpoint: string,
  token: string,
  table: string,
  opts: DescribeOptions = {},
): Promise<TableSchema> {
  const policy = resolveRetryPolicy(opts.retry);
  const url = endpointUrl(endpoint, `v1/tables/${encodeURIComponent(table)}`);
  const headers = authHeaders(token);
  const trust = callTrust(url, opts);
  let last = '';
  for (let attempt = 1; ; attempt++) {
    let retryAfterMs: number | undefined;
    try {
      const verdict = judgeReply(
        await exchange(url, {
          method: 'GET',
          headers,
          signal: opts.signal,
          timeoutMs: opts.timeoutMs ?? 30_000,
          agent: opts.agent,
          trust,
        }).reply,
      );
      if (verdict.kind === 'done') return parseTableSchema(verdict.reply.body, table);
      if (verdict.kind === 'fail') throw verdict.error;
      last = verdict.last;
      retryAfterMs = verdict.retryAfterMs;
    } catch (err) {
      if (!(err instanceof TransportError)) throw err;
      last = `${err.code}: ${err.message}`;
    }
    if (attempt >= policy.maxAttempts)
      throw new UploadUnavailableError(attempt, undefined, `GET /v1/tables/${table}: ${last}`);
    const delayMs = retryDelayMs(policy, attempt, retryAfterMs);
    opts.onRetry?.({
      attempt,
      maxAttempts: policy.maxAttempts,
      delayMs,
      reason: `GET /v1/tables/${table}: ${last}`,
    });
    try {
      await sleep(delayMs, opts.signal);
    } catch (reason) {
      throw new UploadAbortedError({ cause: reason });
    }
  }
}

// What every route handler works with: the worker's pools, limits, metrics and in-memory state, and the
// checks several routes share (token, table).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { canWrite, type AuthToken, type TokenVerifier } from '../auth';
import type { BackupMonitor } from '../backup-monitor';
import type { CatalogTable } from '../catalog';
import type { IngestConfig, IngestLimits } from '../config';
import { httpErrors } from '../errors';
import type { IngestMetrics } from '../metrics';
import type { StatusCollector } from '../status/collect';
import type { TokenStore } from '../token-store';
import type { UploadSlots } from '../upload-slots';
import type { CopyGate } from '../copy-gate';
import type { ParallelCopyOptions } from '../copy-parts/parts';
import type { UploadTracker } from '../upload-tracker';

/** What reload() and close() change while the worker runs; read by every request. */
export interface WorkerState {
  auth: TokenVerifier;
  tables: IngestConfig['tables'];
  /** Allowlisted tables by client-facing name. */
  catalog: Map<string, CatalogTable>;
  closing: boolean;
  /** Parallel COPY of one upload; absent when off (the tier's 1 part, or max_prepared_transactions 0). */
  parallel?: ParallelCopyOptions;
}

export interface RouteContext {
  readonly config: IngestConfig;
  readonly limits: IngestLimits;
  readonly log: Logger;
  /** The upload pool: one connection per running upload. */
  readonly pool: Pool;
  /** Lookups, readiness and the catalog, apart from the uploads' connections. */
  readonly opsPool: Pool;
  readonly metrics: IngestMetrics;
  readonly tracker: UploadTracker;
  readonly slots: UploadSlots;
  /** COPY turns: uploads above the tier's active COPYs wait here before their transaction. */
  readonly gate: CopyGate;
  /** How long an upload or lookup waits for a database server connection before a 503. */
  readonly serverWaitMs: number;
  readonly state: WorkerState;
  /** Config tokens and those made with `powerhouse token`; sets state.auth. */
  readonly tokens: TokenStore;
  /** Present when the config has a backup section: /readyz, /metrics and the upload check read it. */
  readonly backup?: BackupMonitor;
  /** GET /v1/admin/status (the dashboard's numbers), computed at most once a second for every viewer. */
  readonly status: StatusCollector;
}

/** Route names: the `route` label of the responses metric. */
export type RouteName =
  | 'upload'
  | 'describe'
  | 'upload_status'
  | 'upload_lookup'
  | 'healthz'
  | 'readyz'
  | 'metrics'
  | 'admin_pgbouncer'
  | 'admin_tokens'
  | 'admin_token_add'
  | 'admin_token_revoke'
  | 'admin_uploads'
  | 'admin_status'
  | 'dashboard'
  | 'dashboard_asset'
  | 'whoami'
  | 'other';

/** What the access-log line and the responses metric need to know about a request. */
export interface RequestInfo {
  route: RouteName;
  /** The upload's id, once an upload ran. */
  uploadId?: string;
}

/** One request, as a route handler sees it. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly info: RequestInfo;
}

export const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,128}$/;

export function authenticate(ctx: RouteContext, req: IncomingMessage): AuthToken {
  const token = ctx.state.auth.authenticate(req.headers.authorization);
  if (!token) throw httpErrors.unauthorized();
  return token;
}

/** Allowlisted table the token may write: 401, then 404 (allowlist only), then 403. */
export function tableFor(
  ctx: RouteContext,
  req: IncomingMessage,
  encodedName: string,
): { token: AuthToken; table: CatalogTable } {
  const token = authenticate(ctx, req);
  let name: string;
  try {
    name = decodeURIComponent(encodedName);
  } catch {
    throw httpErrors.unknownTable();
  }
  const table = ctx.state.catalog.get(name);
  if (!table) throw httpErrors.unknownTable();
  if (!canWrite(token, name)) throw httpErrors.forbidden();
  return { token, table };
}

// The worker's configuration: validated once here (zod), typed everywhere else. Loaded from a JSON file
// and/or POWERHOUSE_* environment variables. Tokens are kept only as SHA-256 hashes.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { IngestSettings } from '../config-templates/settings';

const SHA256_HEX = /^[0-9a-f]{64}$/;
const sha256Hex = z
  .string()
  .transform((s) => s.toLowerCase())
  .refine((s) => SHA256_HEX.test(s), 'must be the 64-hex-digit SHA-256 of the token (see hashToken)');
const identifier = z.string().min(1).max(63);
const positiveInt = z.number().int().positive();

export const ingestLimitsSchema = z.object({
  dbPoolSize: positiveInt,
  /** Upload pool connections opened at start and kept open; default maxConcurrentUploads (capped at dbPoolSize). */
  dbPoolKeepOpen: z.number().int().nonnegative().optional(),
  maxConcurrentUploads: positiveInt,
  maxConcurrentUploadsPerToken: positiveInt,
  maxBodyBytes: positiveInt,
  maxFieldBytes: positiveInt,
  idleTimeoutMs: positiveInt,
  copyChunkBytes: positiveInt,
  /** Parallel COPY of one upload (ingest/copy-parts): 1 turns it off. */
  parallelCopyParts: positiveInt.default(1),
  parallelCopyPartBytes: positiveInt.default(16 * 1024 ** 2),
  /** COPY backends this worker drives at once; more uploads wait for a turn (copy-gate.ts). Default: no waiting. */
  maxActiveCopies: positiveInt.optional(),
  /** Bound on an upload's wait for its COPY turn, then 503; default 240 s. */
  copyTurnWaitMs: positiveInt.max(2 ** 31 - 1).default(240_000),
  /** Uploads with a Content-Length up to this take no turn; default 1 MiB. */
  copyTurnFreeBytes: z
    .number()
    .int()
    .nonnegative()
    .default(1024 ** 2),
  /** How often the worker looks for upload parts an interrupted upload left prepared; default 30 s (copy-parts/resolver.ts). */
  preparedPartsCheckMs: positiveInt.optional(),
  shutdownGraceMs: z.number().int().nonnegative(),
  retryAfterSeconds: positiveInt,
});
export type IngestLimits = z.infer<typeof ingestLimitsSchema>;

export const tableConfigSchema = z.object({
  /** PostgreSQL schema of the table. */
  schema: identifier.default('public'),
  table: identifier,
  /** The name clients use in /v1/tables/{name}; defaults to `table`. */
  name: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,128}$/, 'letters, digits, _ . - only')
    .optional(),
  /** Columns clients may write; defaults to every writable column. */
  columns: z.array(identifier).nonempty().optional(),
});
export type TableConfig = z.infer<typeof tableConfigSchema>;

export const tokenConfigSchema = z.object({
  /** Names the token in logs, metrics and upload records (never the token itself). */
  id: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'letters, digits, _ . : - only (1-64)'),
  sha256: sha256Hex,
  /** Client table names this token may write, or '*' for every allowlisted table. */
  tables: z.union([z.literal('*'), z.array(z.string().min(1))]),
});
export type TokenConfig = z.infer<typeof tokenConfigSchema>;

/** Backup health in /readyz and /metrics, and the upload refusal before un-archived WAL fills the disk. */
export const backupConfigSchema = z.object({
  /** false: this deployment keeps no backups (e.g. the local embedded stack, or a host applied without a repository). */
  enabled: z.boolean(),
  /** JSON file the host's probe writes (config-templates/backup-status.ts). Absent: no probe on this target. */
  statusFile: z.string().min(1).optional(),
  /** A status older than this is shown as stale (the probe stopped). */
  statusMaxAgeSeconds: positiveInt.default(180),
  /** Refuse new uploads (503) while at least this many bytes of WAL wait to be archived (the tier's WAL disk margin). */
  walMarginBytes: positiveInt,
  /** How often the worker re-reads the status file and pg_stat_archiver. */
  pollSeconds: positiveInt.default(10),
  /** Why there are no backups, shown in /readyz when enabled is false (e.g. "no backup repository configured: set backup_repository"). */
  reason: z.string().optional(),
});
export type BackupConfig = z.infer<typeof backupConfigSchema>;

export const ingestConfigSchema = z
  .object({
    /** node-postgres URL through PgBouncer's ingest pool entry (INGEST_POOL_DB). */
    databaseUrl: z.string().min(1),
    /** URL used for migrations when they need more rights than the ingest role has; defaults to databaseUrl. */
    migrationDatabaseUrl: z.string().min(1).optional(),
    /** PgBouncer admin console (database "pgbouncer") as the stats user; enables /v1/admin/pgbouncer. */
    pgbouncerAdminUrl: z.string().min(1).optional(),
    listen: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8080),
      })
      .default({ host: '127.0.0.1', port: 8080 }),
    tables: z.array(tableConfigSchema),
    tokens: z.array(tokenConfigSchema),
    adminTokenSha256: sha256Hex.optional(),
    limits: ingestLimitsSchema,
    migrate: z.boolean().default(false),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Absent: no backup fields in /readyz or /metrics (as before backups existed). */
    backup: backupConfigSchema.optional(),
  })
  .superRefine((cfg, ctx) => {
    const names = new Set<string>();
    cfg.tables.forEach((t, i) => {
      const name = t.name ?? t.table;
      if (names.has(name))
        ctx.addIssue({ code: 'custom', path: ['tables', i], message: `duplicate table name "${name}"` });
      names.add(name);
    });
    const ids = new Set<string>();
    cfg.tokens.forEach((tok, i) => {
      if (ids.has(tok.id))
        ctx.addIssue({
          code: 'custom',
          path: ['tokens', i, 'id'],
          message: `duplicate token id "${tok.id}"`,
        });
      ids.add(tok.id);
      if (tok.tables !== '*') {
        tok.tables.forEach((t, j) => {
          if (!names.has(t))
            ctx.addIssue({
              code: 'custom',
              path: ['tokens', i, 'tables', j],
              message: `"${t}" is not in tables`,
            });
        });
      }
    });
  });
export type IngestConfig = z.infer<typeof ingestConfigSchema>;
export type IngestConfigInput = z.input<typeof ingestConfigSchema>;

/** The owner role's URL for `ingest/main.ts --migrate`; never part of the worker's own config. */
export const OWNER_URL_ENV = 'POWERHOUSE_OWNER_DATABASE_URL';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Hex SHA-256 of a bearer token: what the config stores instead of the token. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The worker's limits are the tier's Settings.ingest values, never typed twice. */
export function limitsFromSettings(s: IngestSettings): IngestLimits {
  return {
    dbPoolSize: s.dbPoolSize.value,
    dbPoolKeepOpen: s.dbPoolKeepOpen.value,
    maxConcurrentUploads: s.maxConcurrentUploads.value,
    maxConcurrentUploadsPerToken: s.maxConcurrentUploadsPerToken.value,
    maxBodyBytes: s.maxBodyBytes.value,
    maxFieldBytes: s.maxFieldBytes.value,
    idleTimeoutMs: s.idleTimeoutMs.value,
    copyChunkBytes: s.copyChunkBytes.value,
    parallelCopyParts: s.parallelCopyParts.value,
    parallelCopyPartBytes: s.parallelCopyPartBytes.value,
    maxActiveCopies: s.maxActiveCopies.value,
    copyTurnWaitMs: s.copyTurnWaitMs.value,
    copyTurnFreeBytes: s.copyTurnFreeBytes.value,
    shutdownGraceMs: s.shutdownGraceMs.value,
    retryAfterSeconds: s.retryAfterSeconds.value,
  };
}

/** Validates a config object; the error lists every problem with its path. */
export function parseIngestConfig(input: unknown, source = 'ingest config'): IngestConfig {
  const result = ingestConfigSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`${source} is invalid:\n${lines.join('\n')}`);
  }
  return result.data;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads the config from a JSON file (path argument or POWERHOUSE_INGEST_CONFIG) and overlays the
 * environment: POWERHOUSE_DATABASE_URL, POWERHOUSE_MIGRATION_DATABASE_URL, POWERHOUSE_PGBOUNCER_ADMIN_URL,
 * POWERHOUSE_INGEST_HOST, POWERHOUSE_INGEST_PORT, POWERHOUSE_INGEST_MIGRATE (true/false), POWERHOUSE_LOG_LEVEL,
 * POWERHOUSE_INGEST_TOKEN (a plain token, hashed here, all tables; its id POWERHOUSE_INGEST_TOKEN_ID, default
 * "env") and POWERHOUSE_ADMIN_TOKEN (plain, hashed here).
 */
export function loadIngestConfig(opts: { file?: string; env?: Env } = {}): IngestConfig {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.POWERHOUSE_INGEST_CONFIG;
  let raw: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read ingest config ${file}: ${(err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      // V8's message may quote the start of the file, which can hold a database URL: give the position only.
      const where = /position \d+/.exec((err as Error).message)?.[0];
      throw new ConfigError(`ingest config ${file} is not valid JSON${where ? ` (at ${where})` : ''}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new ConfigError(`ingest config ${file}: the top level must be a JSON object`);
    raw = parsed as Record<string, unknown>;
  }
  const set = (key: string, value: unknown) => {
    if (value !== undefined) raw[key] = value;
  };
  set('databaseUrl', env.POWERHOUSE_DATABASE_URL);
  set('migrationDatabaseUrl', env.POWERHOUSE_MIGRATION_DATABASE_URL);
  set('pgbouncerAdminUrl', env.POWERHOUSE_PGBOUNCER_ADMIN_URL);
  set('logLevel', env.POWERHOUSE_LOG_LEVEL);
  if (env.POWERHOUSE_INGEST_MIGRATE !== undefined) {
    const v = env.POWERHOUSE_INGEST_MIGRATE.toLowerCase();
    if (!['true', 'false', '1', '0'].includes(v))
      throw new ConfigError(
        `POWERHOUSE_INGEST_MIGRATE must be true or false, got "${env.POWERHOUSE_INGEST_MIGRATE}"`,
      );
    raw.migrate = v === 'true' || v === '1';
  }
  if (env.POWERHOUSE_INGEST_HOST !== undefined || env.POWERHOUSE_INGEST_PORT !== undefined) {
    const listen = { ...((raw.listen as object | undefined) ?? {}) } as Record<string, unknown>;
    if (env.POWERHOUSE_INGEST_HOST !== undefined) listen.host = env.POWERHOUSE_INGEST_HOST;
    if (env.POWERHOUSE_INGEST_PORT !== undefined) {
      const port = Number(env.POWERHOUSE_INGEST_PORT);
      if (!Number.isInteger(port)) throw new ConfigError(`POWERHOUSE_INGEST_PORT must be a port number`);
      listen.port = port;
    }
    raw.listen = listen;
  }
  if (env.POWERHOUSE_INGEST_TOKEN) {
    const tokens = Array.isArray(raw.tokens) ? [...(raw.tokens as unknown[])] : [];
    const id = env.POWERHOUSE_INGEST_TOKEN_ID || 'env';
    tokens.push({ id, sha256: hashToken(env.POWERHOUSE_INGEST_TOKEN), tables: '*' });
    raw.tokens = tokens;
  }
  if (env.POWERHOUSE_ADMIN_TOKEN) raw.adminTokenSha256 = hashToken(env.POWERHOUSE_ADMIN_TOKEN);
  return parseIngestConfig(raw, file ? `ingest config ${file}` : 'ingest config (environment)');
}

/** The client-facing name of an allowlisted table. */
export function tableName(t: TableConfig): string {
  return t.name ?? t.table;
}

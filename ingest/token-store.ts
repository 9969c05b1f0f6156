// The tokens a worker accepts: those in its config (ingest.json, POWERHOUSE_INGEST_TOKEN) and those made with
// `powerhouse token add` through the admin routes, kept in powerhouse.tokens beside the upload records that
// name them (and so in the backups). Only SHA-256 hashes are stored. A change made through this worker takes
// effect before its answer; one made elsewhere (another worker, a restore) within REFRESH_MS.
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { generateSecret } from '../config-templates/secrets';
import { TokenVerifier } from './auth';
import type { TokenConfig } from './config';

export const REFRESH_MS = 15_000;
export const TOKEN_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

export interface TokenInfo {
  name: string;
  tables: '*' | string[];
  /** `config`: from the worker's config (revocable here, removed only from the config); `admin`: made here. */
  source: 'config' | 'admin';
  createdAt: string | null;
  revokedAt: string | null;
  uploads: number;
  lastUploadAt: string | null;
}

interface TokenRow {
  token_id: string;
  sha256: Buffer;
  tables: string[] | null;
  created_at: Date;
  revoked_at: Date | null;
}

/** Why an admin change was refused; the route maps it to its HTTP answer. */
export class TokenChangeError extends Error {
  override name = 'TokenChangeError';
  constructor(
    readonly kind: 'token_exists' | 'unknown_token' | 'bad_request',
    message: string,
  ) {
    super(message);
  }
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const UNDEFINED_TABLE = '42P01';

export class TokenStore {
  private timer: NodeJS.Timeout | undefined;
  private rows: TokenRow[] = [];
  /** Numbers of the last refresh started and the last one whose answer was applied. */
  private started = 0;
  private applied = 0;
  /** False until powerhouse.tokens could be read (not migrated yet): then only config tokens count. */
  available = false;

  constructor(
    private readonly pool: Pool,
    private readonly log: Logger,
    private configTokens: readonly TokenConfig[],
    private adminTokenSha256: string | undefined,
    /** Called with the verifier for the current token set after every refresh. */
    private readonly apply: (auth: TokenVerifier) => void,
    private readonly refreshMs = REFRESH_MS,
  ) {}

  /** The verifier for the config alone, before the first read. */
  initial(): TokenVerifier {
    return this.verifier();
  }

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => {
      this.refresh().catch((err: unknown) =>
        this.log.warn({ err }, 'token refresh failed; keeping the last set'),
      );
    }, this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** New config (SIGHUP reload): its tokens, then a fresh read. */
  async setConfig(tokens: readonly TokenConfig[], adminTokenSha256: string | undefined): Promise<void> {
    this.configTokens = tokens;
    this.adminTokenSha256 = adminTokenSha256;
    await this.refresh().catch((err: unknown) => {
      this.log.warn(
        { err },
        'token refresh failed after reload; using the config tokens and the last stored set',
      );
      this.apply(this.verifier());
    });
  }

  /**
   * Reads the stored tokens and applies them. Refreshes can overlap (the timer's and an admin change's): each
   * is numbered when it starts and an answer no newer than the last one applied is dropped (a change applied
   * here counts as newer than every read under way), so a read that began
   * before a revocation committed can never put the revoked token back.
   */
  async refresh(): Promise<void> {
    const seq = ++this.started;
    let rows: TokenRow[];
    let available: boolean;
    try {
      ({ rows } = await this.pool.query<TokenRow>(
        'SELECT token_id, sha256, tables, created_at, revoked_at FROM powerhouse.tokens ORDER BY created_at, token_id',
      ));
      available = true;
    } catch (err) {
      if ((err as { code?: string }).code !== UNDEFINED_TABLE) throw err;
      if (this.available || this.started === 1)
        this.log.warn(
          'powerhouse.tokens does not exist (migrations not run): only the config tokens are accepted',
        );
      rows = [];
      available = false;
    }
    if (seq <= this.applied) return;
    this.applied = seq;
    this.rows = rows;
    this.available = available;
    this.apply(this.verifier());
  }

  /**
   * A row this worker just committed, applied at once. Every read already under way began before the commit,
   * so its answer is stale: marking them all as applied makes refresh() drop them.
   */
  private applyRow(row: TokenRow): void {
    this.rows = [...this.rows.filter((r) => r.token_id !== row.token_id), row];
    this.applied = this.started;
    this.apply(this.verifier());
  }

  private verifier(): TokenVerifier {
    const revoked = new Set(this.rows.filter((r) => r.revoked_at).map((r) => r.token_id));
    const fromConfig = this.configTokens.filter((t) => !revoked.has(t.id));
    const configIds = new Set(this.configTokens.map((t) => t.id));
    const stored: TokenConfig[] = this.rows
      .filter((r) => !r.revoked_at && !configIds.has(r.token_id))
      .map((r) => ({ id: r.token_id, sha256: r.sha256.toString('hex'), tables: r.tables ?? '*' }));
    return new TokenVerifier([...fromConfig, ...stored], this.adminTokenSha256);
  }

  /** The token table must exist (migrations run); read again first if the last read found none. */
  private async requireStore(): Promise<void> {
    if (!this.available) await this.refresh();
    if (!this.available)
      throw new TokenChangeError(
        'bad_request',
        'this worker keeps no token records (powerhouse.tokens is missing: run the migrations, ingest --migrate)',
      );
  }

  /** Makes a token; the plain token is returned once and never stored. */
  async add(name: string, tables: '*' | string[]): Promise<{ token: string; info: TokenInfo }> {
    await this.requireStore();
    if (!TOKEN_NAME.test(name))
      throw new TokenChangeError('bad_request', 'token name: 1-64 characters of A-Z a-z 0-9 _ . : -');
    if (this.configTokens.some((t) => t.id === name))
      throw new TokenChangeError('token_exists', `token "${name}" already exists (in the worker's config)`);
    const token = generateSecret();
    const sha = createHash('sha256').update(token, 'utf8').digest();
    const { rows } = await this.pool.query<TokenRow>(
      `INSERT INTO powerhouse.tokens (token_id, sha256, tables) VALUES ($1, $2, $3)
       ON CONFLICT (token_id) DO NOTHING RETURNING token_id, sha256, tables, created_at, revoked_at`,
      [name, sha, tables === '*' ? null : tables],
    );
    if (!rows.length) {
      const { rows: taken } = await this.pool.query<{ revoked_at: Date | null }>(
        'SELECT revoked_at FROM powerhouse.tokens WHERE token_id = $1',
        [name],
      );
      const old = taken[0];
      throw new TokenChangeError(
        'token_exists',
        old?.revoked_at
          ? `token "${name}" was revoked at ${old.revoked_at.toISOString()}; names are not reused (upload records name them): choose another`
          : `token "${name}" already exists`,
      );
    }
    this.applyRow(rows[0]);
    return { token, info: this.describe(rows[0], 'admin', new Map()) };
  }

  /** Revokes a token by name; revoking one already revoked answers with its first revocation. */
  async revoke(name: string): Promise<TokenInfo> {
    await this.requireStore();
    const fromConfig = this.configTokens.find((t) => t.id === name);
    let rows: TokenRow[];
    if (fromConfig) {
      ({ rows } = await this.pool.query<TokenRow>(
        `INSERT INTO powerhouse.tokens (token_id, sha256, tables, revoked_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (token_id) DO UPDATE SET revoked_at = coalesce(tokens.revoked_at, now())
         RETURNING token_id, sha256, tables, created_at, revoked_at`,
        [name, Buffer.from(fromConfig.sha256, 'hex'), fromConfig.tables === '*' ? null : fromConfig.tables],
      ));
    } else {
      ({ rows } = await this.pool.query<TokenRow>(
        `UPDATE powerhouse.tokens SET revoked_at = coalesce(revoked_at, now()) WHERE token_id = $1
         RETURNING token_id, sha256, tables, created_at, revoked_at`,
        [name],
      ));
    }
    if (!rows.length) throw new TokenChangeError('unknown_token', `no token named "${name}"`);
    this.applyRow(rows[0]);
    return this.describe(rows[0], fromConfig ? 'config' : 'admin', new Map());
  }

  /** Every token, config and stored, revoked ones included, with its upload count and last upload. */
  async list(): Promise<TokenInfo[]> {
    await this.refresh();
    const stats = new Map<string, { n: number; last: Date | null }>();
    const { rows } = await this.pool.query<{ token_id: string; n: string; last: Date | null }>(
      'SELECT token_id, count(*) AS n, max(finished_at) AS last FROM powerhouse.uploads GROUP BY token_id',
    );
    for (const r of rows) stats.set(r.token_id, { n: Number(r.n), last: r.last });
    const byId = new Map(this.rows.map((r) => [r.token_id, r]));
    const out: TokenInfo[] = this.configTokens.map((t) => {
      const row = byId.get(t.id);
      return {
        name: t.id,
        tables: t.tables === '*' ? '*' : [...t.tables],
        source: 'config',
        createdAt: null,
        revokedAt: iso(row?.revoked_at ?? null),
        uploads: stats.get(t.id)?.n ?? 0,
        lastUploadAt: iso(stats.get(t.id)?.last ?? null),
      };
    });
    const configIds = new Set(this.configTokens.map((t) => t.id));
    for (const r of this.rows) if (!configIds.has(r.token_id)) out.push(this.describe(r, 'admin', stats));
    return out;
  }

  private describe(
    r: TokenRow,
    source: TokenInfo['source'],
    stats: Map<string, { n: number; last: Date | null }>,
  ): TokenInfo {
    return {
      name: r.token_id,
      tables: r.tables ?? '*',
      source,
      createdAt: source === 'config' ? null : iso(r.created_at),
      revokedAt: iso(r.revoked_at),
      uploads: stats.get(r.token_id)?.n ?? 0,
      lastUploadAt: iso(stats.get(r.token_id)?.last ?? null),
    };
  }
}

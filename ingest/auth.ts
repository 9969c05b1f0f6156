// Bearer-token authentication. The presented token is hashed and compared with crypto.timingSafeEqual
// against every configured hash, with no early exit, so the time taken does not depend on which token
// (or how much of one) matched.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { TokenConfig } from './config';

export interface AuthToken {
  readonly id: string;
  readonly tables: ReadonlySet<string> | '*';
}

/** The token from `Authorization: Bearer <token>`, or null when absent or malformed. */
export function parseBearer(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i.exec(header);
  return m ? m[1] : null;
}

function sha256(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export class TokenVerifier {
  private readonly hashes: Buffer[];
  private readonly tokens: AuthToken[];
  private readonly adminHash: Buffer | null;

  constructor(tokens: readonly TokenConfig[], adminTokenSha256?: string) {
    this.hashes = tokens.map((t) => Buffer.from(t.sha256, 'hex'));
    this.tokens = tokens.map((t) => ({ id: t.id, tables: t.tables === '*' ? '*' : new Set(t.tables) }));
    this.adminHash = adminTokenSha256 ? Buffer.from(adminTokenSha256, 'hex') : null;
  }

  /** The configured token the request carries, or null (→ 401). */
  authenticate(authorization: string | undefined): AuthToken | null {
    const presented = parseBearer(authorization);
    // Hash even when absent so a missing header costs the same as a wrong one.
    const digest = sha256(presented ?? '');
    let found = -1;
    for (let i = 0; i < this.hashes.length; i++) {
      // Every hash is compared; the match index is selected without branching on secret data.
      const eq = timingSafeEqual(digest, this.hashes[i]) ? 1 : 0;
      found = eq * i + (1 - eq) * found;
    }
    return presented !== null && found >= 0 ? this.tokens[found] : null;
  }

  /** True when the request carries the admin token. */
  isAdmin(authorization: string | undefined): boolean {
    const presented = parseBearer(authorization);
    const digest = sha256(presented ?? '');
    const ok = this.adminHash !== null && timingSafeEqual(digest, this.adminHash);
    return presented !== null && ok;
  }
}

export function canWrite(token: AuthToken, table: string): boolean {
  return token.tables === '*' || token.tables.has(table);
}

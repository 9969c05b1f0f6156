// The token store's ordering rule on a real PostgreSQL 16: a refresh that read the tokens before a revocation
// committed, and answers after it, must not bring the revoked token back (the timer's refresh and an admin
// change overlap in a running worker). The database is real; the test only holds one answer back in transit.
import { Pool } from 'pg';
import pino from 'pino';
import type { TokenVerifier } from '../../ingest/auth';
import { migrate } from '../../ingest/migrations';
import { TokenStore } from '../../ingest/token-store';
import { stopAllTestServers } from '../harness';
import { startIngestStack, type IngestStack } from './stack';

let stack: IngestStack;
let pool: Pool;

beforeAll(async () => {
  stack = await startIngestStack();
  const owner = new Pool({ connectionString: stack.ownerUrl, max: 1 });
  await migrate(owner);
  await owner.end();
  pool = new Pool({ connectionString: stack.ingestUrl, max: 4 });
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await stopAllTestServers();
});

interface Held {
  /** Resolves once the held query has its answer from PostgreSQL. */
  read: Promise<void>;
  /** Hands the answer to the store. */
  release: () => void;
}

/** A pool whose next SELECT of the tokens runs at once but hands its answer over only when released. */
function holdingPool(real: Pool) {
  let next: { gate: Promise<void>; markRead: () => void } | undefined;
  return {
    holdNextRead(): Held {
      let release!: () => void;
      let markRead!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const read = new Promise<void>((r) => (markRead = r));
      next = { gate, markRead };
      return { read, release };
    },
    async query(text: string, params?: unknown[]) {
      const h = next;
      if (!h || !text.startsWith('SELECT token_id')) return real.query(text, params);
      next = undefined;
      const answer = await real.query(text, params);
      h.markRead();
      await h.gate;
      return answer;
    },
  };
}

it('a refresh that read before a revocation and answers after it does not revive the token', async () => {
  const db = holdingPool(pool);
  let auth!: TokenVerifier;
  const store = new TokenStore(
    db as unknown as Pool,
    pino({ level: 'silent' }),
    [],
    undefined,
    (a) => (auth = a),
  );
  await store.start();
  try {
    const { token } = await store.add('race', '*');
    const bearer = `Bearer ${token}`;
    expect(auth.authenticate(bearer)?.id).toBe('race');

    // The timer's refresh reads the tokens (still active) ...
    const held = db.holdNextRead();
    const stale = store.refresh();
    await held.read;
    // ... the revocation commits and applies meanwhile ...
    await store.revoke('race');
    expect(auth.authenticate(bearer)).toBeNull();
    // ... and the stale answer arrives last: it is dropped.
    held.release();
    await stale;
    expect(auth.authenticate(bearer)).toBeNull();
    // A later refresh agrees.
    await store.refresh();
    expect(auth.authenticate(bearer)).toBeNull();
  } finally {
    store.stop();
  }
});

it('keeps the last token set when the database cannot be read', async () => {
  let auth!: TokenVerifier;
  const broken = new Pool({ connectionString: stack.ingestUrl, max: 1 });
  const store = new TokenStore(broken, pino({ level: 'silent' }), [], undefined, (a) => (auth = a));
  await store.start();
  try {
    const { token } = await store.add('steady', '*');
    await broken.end(); // every later query fails
    await expect(store.refresh()).rejects.toThrow();
    expect(auth.authenticate(`Bearer ${token}`)?.id).toBe('steady');
  } finally {
    store.stop();
  }
});

// SHOW POOLS for the status, on one console connection kept open: a login per reading would cost a SCRAM
// handshake (CPU on both sides) every second someone watches. Dropped on any error or timeout and opened
// again at the next reading.
import { Client } from 'pg';
import { withDeadline } from '../deadline';
import { CONNECT_TIMEOUT_MS, tidy } from '../pgbouncer-admin';

export class PgBouncerConsole {
  private client: Promise<Client> | undefined;

  constructor(private readonly adminUrl: string) {}

  async showPools(timeoutMs: number): Promise<Record<string, unknown>[]> {
    try {
      const work = this.connected().then((c) => c.query('SHOW POOLS'));
      const res = await withDeadline(work, timeoutMs, () => {
        throw new Error(`no answer within ${timeoutMs} ms`);
      });
      return res.rows.map(tidy);
    } catch (err) {
      this.drop();
      throw err;
    }
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    await c?.then((client) => client.end()).catch(() => undefined);
  }

  private connected(): Promise<Client> {
    this.client ??= (async () => {
      const client = new Client({
        connectionString: this.adminUrl,
        connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      });
      client.on('error', () => this.drop()); // PgBouncer restarted: the next reading reconnects
      await client.connect();
      return client;
    })();
    return this.client;
  }

  private drop(): void {
    void this.close();
  }
}

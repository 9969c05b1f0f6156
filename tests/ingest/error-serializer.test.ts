// What of an error reaches a log line (ingest/error-serializer.ts), against a real node-postgres error.
import { Client } from 'pg';
import { serializeError } from '../../ingest/error-serializer';
import { httpErrors } from '../../ingest/errors';
import { createLogger } from '../../ingest/logger';
import { stopAllTestServers, startTestPostgres } from '../harness';
import { LogCapture } from './stack';

afterAll(() => stopAllTestServers());

describe('serializeError', () => {
  it('a PostgreSQL error keeps message, SQLSTATE and severity: not the client pg-pool hangs on it', async () => {
    const pg = await startTestPostgres();
    const client = new Client({ connectionString: pg.url });
    await client.connect();
    const err = await client.query('SELECT 1/0').catch((e: Error) => e);
    await client.end();
    Object.assign(err, { client }); // what pg-pool's idle listener does (err.client = client)
    expect(serializeError(err)).toEqual({
      type: 'DatabaseError',
      message: 'division by zero',
      code: '22012',
      severity: 'ERROR',
    });
    const logs = new LogCapture();
    createLogger('info', logs).warn({ err }, 'failed');
    expect(logs.text).not.toMatch(/secretKey|processID|connectionParameters/);
    expect(logs.text).toContain('"code":"22012"');
  });

  it("other errors keep type, message, stack and plain fields; objects of other classes and URLs' passwords never", () => {
    const http = serializeError(httpErrors.badRow(3, 'c', 'row 3, column "c": bad')) as Record<
      string,
      unknown
    >;
    expect(http).toMatchObject({
      type: 'HttpError',
      message: 'row 3, column "c": bad',
      status: 400,
      kind: 'bad_row',
      body: { error: 'bad_row', row: 3, column: 'c', message: 'row 3, column "c": bad' },
    });
    expect(typeof http.stack).toBe('string');

    let urlError: unknown;
    try {
      new URL('postgresql://powerhouse_ingest:s3cret-pw@db:notaport/x');
    } catch (e) {
      urlError = e;
    }
    const url = serializeError(urlError) as Record<string, unknown>;
    expect(url.input).toBe('postgresql://powerhouse_ingest:[redacted]@db:notaport/x');
    expect(JSON.stringify(url)).not.toContain('s3cret-pw');

    class Connection {
      processID = 1;
      secretKey = 2;
    }
    const withObjects = Object.assign(new Error('connect postgres://u:pw@h:1/d failed'), {
      connection: new Connection(),
      socket: { secretKey: 3 },
      nested: new Connection(),
      cause: new Error('inner postgres://u:pw2@h/d'),
    });
    const out = serializeError(withObjects) as Record<string, unknown>;
    expect(out.message).toBe('connect postgres://u:[redacted]@h:1/d failed');
    expect(out).not.toHaveProperty('connection');
    expect(out).not.toHaveProperty('socket');
    expect(out).not.toHaveProperty('nested');
    expect((out.cause as Record<string, unknown>).message).toBe('inner postgres://u:[redacted]@h/d');
    expect(JSON.stringify(out)).not.toMatch(/secretKey|processID|pw2?@/);
    expect(serializeError(new Connection())).toBe('[Connection omitted]');
  });
});

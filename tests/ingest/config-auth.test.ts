// Worker config (zod, file + env, hashed tokens) and bearer-token authentication. No servers needed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { customTier, tune } from '../../config-templates';
import { TokenVerifier, canWrite, parseBearer } from '../../ingest/auth';
import {
  ConfigError,
  hashToken,
  limitsFromSettings,
  loadIngestConfig,
  parseIngestConfig,
} from '../../ingest/config';

const settings = tune(customTier({ cores: 2, ramMiB: 4096, disk: 'ssd' }, 8));
const base = {
  databaseUrl: 'postgresql://u:p@127.0.0.1:6432/powerhouse_ingest',
  tables: [{ table: 'tm_entries' }, { schema: 'app', table: 'rows', name: 'app.rows', columns: ['a', 'b'] }],
  tokens: [{ id: 'desk', sha256: hashToken('secret-1'), tables: ['tm_entries'] }],
  limits: limitsFromSettings(settings.ingest),
};

describe('hashToken', () => {
  it('is the hex SHA-256 of the token', () => {
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('parseIngestConfig', () => {
  it('fills defaults and keeps the tier limits as given', () => {
    const cfg = parseIngestConfig(base);
    expect(cfg.listen).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(cfg.migrate).toBe(false);
    expect(cfg.logLevel).toBe('info');
    expect(cfg.tables[0]).toEqual({ schema: 'public', table: 'tm_entries' });
    expect(cfg.limits.dbPoolSize).toBe(settings.ingest.dbPoolSize.value);
    expect(cfg.limits.maxBodyBytes).toBe(settings.ingest.maxBodyBytes.value);
    expect(cfg.limits.idleTimeoutMs).toBe(settings.ingest.idleTimeoutMs.value);
  });

  const problems = (input: unknown): string => {
    try {
      parseIngestConfig(input);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('config was accepted');
  };

  it('names every malformed field with its path', () => {
    const message = problems({
      ...base,
      databaseUrl: undefined,
      tokens: [{ id: 'x', sha256: 'not-a-hash', tables: '*' }],
      limits: { ...base.limits, maxBodyBytes: -1 },
    });
    expect(message).toMatch(/databaseUrl/);
    expect(message).toMatch(/tokens\.0\.sha256: must be the 64-hex-digit SHA-256/);
    expect(message).toMatch(/limits\.maxBodyBytes/);
  });

  it('checks names across tables and tokens', () => {
    const message = problems({
      ...base,
      tables: [{ table: 'a' }, { table: 'a' }],
      tokens: [
        { id: 'x', sha256: hashToken('t1'), tables: ['missing'] },
        { id: 'x', sha256: hashToken('t2'), tables: '*' },
      ],
    });
    expect(message).toMatch(/tables\.1: duplicate table name "a"/);
    expect(message).toMatch(/tokens\.0\.tables\.0: "missing" is not in tables/);
    expect(message).toMatch(/tokens\.1\.id: duplicate token id "x"/);
  });
});

describe('loadIngestConfig', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-config-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads the file and overlays POWERHOUSE_* variables; plain tokens from env are kept only hashed', () => {
    const file = path.join(dir, 'ingest.json');
    fs.writeFileSync(file, JSON.stringify(base));
    const cfg = loadIngestConfig({
      file,
      env: {
        POWERHOUSE_DATABASE_URL: 'postgresql://other@127.0.0.1:1/x',
        POWERHOUSE_INGEST_PORT: '9090',
        POWERHOUSE_INGEST_MIGRATE: 'true',
        POWERHOUSE_INGEST_TOKEN: 'env-token-value',
        POWERHOUSE_ADMIN_TOKEN: 'admin-token-value',
        POWERHOUSE_LOG_LEVEL: 'warn',
      },
    });
    expect(cfg.databaseUrl).toBe('postgresql://other@127.0.0.1:1/x');
    expect(cfg.listen).toEqual({ host: '127.0.0.1', port: 9090 });
    expect(cfg.migrate).toBe(true);
    expect(cfg.logLevel).toBe('warn');
    expect(cfg.tokens.map((t) => t.id)).toEqual(['desk', 'env']);
    expect(cfg.tokens[1]).toEqual({ id: 'env', sha256: hashToken('env-token-value'), tables: '*' });
    // The Docker stack names it like every other target's token.
    const named = loadIngestConfig({
      file,
      env: { POWERHOUSE_INGEST_TOKEN: 'env-token-value', POWERHOUSE_INGEST_TOKEN_ID: 'default' },
    });
    expect(named.tokens.map((t) => t.id)).toEqual(['desk', 'default']);
    expect(cfg.adminTokenSha256).toBe(hashToken('admin-token-value'));
    const serialized = JSON.stringify(cfg);
    expect(serialized).not.toContain('env-token-value');
    expect(serialized).not.toContain('admin-token-value');
  });

  it('says which file is broken and why', () => {
    const file = path.join(dir, 'broken.json');
    fs.writeFileSync(file, '{"databaseUrl": ');
    expect(() => loadIngestConfig({ file, env: {} })).toThrow(`ingest config ${file} is not valid JSON`);
    // V8 quotes the start of unparsable text in its message; the file can hold a database password.
    const leaky = path.join(dir, 'leaky.json');
    fs.writeFileSync(leaky, 'pw{"databaseUrl": "postgresql://u:hunter2@h/db"}');
    expect(() => JSON.parse(fs.readFileSync(leaky, 'utf8'))).toThrow(/pw\{/); // the positive control
    let message = '';
    try {
      loadIngestConfig({ file: leaky, env: {} });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(
      new RegExp(`^ingest config ${leaky} is not valid JSON( \\(at position \\d+\\))?$`),
    );
    expect(message).not.toMatch(/hunter2|pw\{/);
    const list = path.join(dir, 'list.json');
    fs.writeFileSync(list, '[]');
    expect(() => loadIngestConfig({ file: list, env: {} })).toThrow('the top level must be a JSON object');
    expect(() => loadIngestConfig({ file: path.join(dir, 'absent.json'), env: {} })).toThrow(
      /cannot read ingest config/,
    );
    expect(() => loadIngestConfig({ env: { POWERHOUSE_INGEST_MIGRATE: 'maybe' } })).toThrow(
      'POWERHOUSE_INGEST_MIGRATE must be true or false',
    );
  });
});

describe('bearer tokens', () => {
  const verifier = new TokenVerifier(
    [
      { id: 'a', sha256: hashToken('token-aaaa'), tables: ['tm_entries'] },
      { id: 'b', sha256: hashToken('token-bbbb'), tables: '*' },
    ],
    hashToken('admin-zzzz'),
  );

  it('parses only well-formed Bearer headers', () => {
    expect(parseBearer('Bearer abc')).toBe('abc');
    expect(parseBearer('bearer abc')).toBe('abc');
    expect(parseBearer('Basic abc')).toBeNull();
    expect(parseBearer('Bearer')).toBeNull();
    expect(parseBearer('Bearer a b')).toBeNull();
    expect(parseBearer(undefined)).toBeNull();
  });

  it('accepts exactly the configured tokens, whichever position they are in', () => {
    expect(verifier.authenticate('Bearer token-aaaa')?.id).toBe('a');
    expect(verifier.authenticate('Bearer token-bbbb')?.id).toBe('b');
    expect(verifier.authenticate('Bearer token-aaa')).toBeNull();
    expect(verifier.authenticate('Bearer token-aaaaa')).toBeNull();
    expect(verifier.authenticate('Bearer admin-zzzz')).toBeNull();
    expect(verifier.authenticate(undefined)).toBeNull();
    expect(verifier.authenticate('Bearer ')).toBeNull();
  });

  it('knows the admin token and table permissions', () => {
    expect(verifier.isAdmin('Bearer admin-zzzz')).toBe(true);
    expect(verifier.isAdmin('Bearer token-bbbb')).toBe(false);
    expect(verifier.isAdmin(undefined)).toBe(false);
    expect(new TokenVerifier([]).isAdmin('Bearer anything')).toBe(false);
    const a = verifier.authenticate('Bearer token-aaaa')!;
    const b = verifier.authenticate('Bearer token-bbbb')!;
    expect(canWrite(a, 'tm_entries')).toBe(true);
    expect(canWrite(a, 'file_rows')).toBe(false);
    expect(canWrite(b, 'file_rows')).toBe(true);
  });
});

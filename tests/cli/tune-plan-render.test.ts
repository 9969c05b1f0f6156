// The CLI as a user runs it: a real child process, its stdout, stderr and exit code.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');
function powerhouse(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(root, 'bin/powerhouse.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, POWERHOUSE_APP_PASSWORD: 'app-pass-given-in-env' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('powerhouse tune', () => {
  it('prints the recommended tier as JSON with the headline values and reasons', () => {
    const r = powerhouse('tune', '--tier', 'recommended', '--format', 'json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.postgres.shared_buffers.value).toBe('8GB');
    expect(j.postgres.effective_cache_size.value).toBe('24GB');
    expect(j.postgres.wal_buffers.value).toBe('16MB');
    expect(j.postgres.work_mem.reason).toMatch(/max_connections/);
    expect(j.memory.sharedBuffersMiB + j.memory.workMemWorstCaseMiB).toBeLessThanOrEqual(j.memory.ramMiB);
  });

  it('prints a table and a conf format, custom hardware included', () => {
    const t = powerhouse(
      'tune',
      '--tier',
      'custom',
      '--cores',
      '6',
      '--ram',
      '24GB',
      '--disk',
      'ssd',
      '--users',
      '60',
    );
    expect(t.code).toBe(0);
    expect(t.out).toMatch(/tier custom: 6 cores, 24\.0 GiB RAM, ssd, 60 concurrent uploaders/);
    expect(t.out).toMatch(/postgres\s+shared_buffers\s+6GB\s+25% of RAM/);
    const c = powerhouse('tune', '--tier', 'minimum', '--format', 'conf');
    expect(c.out).toMatch(/^shared_buffers = 4GB {2}# /m);
  });

  it.each([
    [['--tier', 'huge'], /--tier "huge" is not a tier/],
    [['--tier', 'custom', '--cores', '4', '--ram', '0'], /RAM must be positive/],
    [['--tier', 'custom', '--cores', '4', '--ram', '1GB'], /below the 2048 MiB/],
    [['--tier', 'custom', '--ram', '8GB'], /needs --cores and --ram/],
    [['--tier', 'minimum', '--cores', 'two'], /--cores must be a whole number/],
    [['--tier', 'minimum', '--disk', 'tape'], /Allowed choices are nvme, ssd, hdd/],
    [
      ['--tier', 'custom', '--cores', '2', '--ram', '2GB', '--users', '3000'],
      /cannot serve 3,000 concurrent users/,
    ],
  ])('refuses %j with a clear message and exit code 2', (args, message) => {
    const r = powerhouse('tune', ...(args as string[]));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message as RegExp);
    expect(r.out).toBe('');
  });
});

describe('powerhouse plan', () => {
  it('plans 40 users × 1M rows: data, indexes, WAL, memory within RAM, a tier, a server and a dated price', () => {
    const r = powerhouse('plan', '--users', '40', '--rows', '1000000', '--format', 'json');
    expect(r.code).toBe(0);
    const p = JSON.parse(r.out);
    expect(p.rows).toBe(40_000_000);
    expect(p.rawGB).toBeCloseTo(8, 5);
    expect(p.indexGB / p.heapGB).toBeGreaterThan(0.1);
    expect(p.indexGB / p.heapGB).toBeLessThan(0.3);
    expect(p.chosen.tier).toBe('minimum');
    expect(p.chosen.server.name).toBe('ccx23');
    const total = p.memory.find((l: { item: string }) => l.item === 'total worst case');
    expect(total.mib).toBeLessThanOrEqual(16 * 1024);
    expect(p.pricesAsOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    const text = powerhouse('plan', '--users', '150', '--rows', '5000000');
    expect(text.out).toMatch(/choose: powerhouse — CCX43/);
    expect(text.out).toMatch(/list prices as of \d{4}-\d{2}-\d{2}/);
  });

  it("dates its prices, names their source, and says they are not confirmed as today's", () => {
    const p = JSON.parse(powerhouse('plan', '--format', 'json').out);
    expect(p.prices).toMatchObject({ asOf: p.pricesAsOf, appliesTo: 'new servers and rescales' });
    expect(p.prices.source).toMatch(
      /docs\.hetzner\.com\/general\/infrastructure-and-availability\/price-adjustment/,
    );
    const text = powerhouse('plan').out;
    expect(text).toContain(`list prices as of ${p.pricesAsOf} for new servers and rescales`);
    expect(text).toContain(`prices: ${p.prices.source}.`);
    expect(text).toMatch(/Hetzner changed cloud prices on 2026-04-01 and again .* on 2026-06-15/);
    expect(text).toMatch(/not confirmed as today's prices .*check hetzner\.com\/cloud/);
    // Every candidate's price is the server's list price plus its IPv4 (no volume at 40 × 1M rows).
    for (const c of p.candidates) expect(c.eurPerMonth).toBeCloseTo(c.server.eurPerMonth + 0.5, 2);
  });

  it('says "1 user × 1 row"', () => {
    expect(powerhouse('plan', '--users', '1', '--rows', '1').out).toMatch(
      /^1 user × 1 row × 200 B = 1 row$/m,
    );
  });

  it('refuses a non-positive row count', () => {
    const r = powerhouse('plan', '--rows', '0');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--rows must be a positive number/);
  });

  it('refuses an unknown --format with exit code 2', () => {
    const r = powerhouse('plan', '--format', 'yaml');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Allowed choices are text, json/);
  });
});

describe('usage errors of powerhouse up', () => {
  it.each([
    [['--port', '70000'], /--port must be a port number, got "70000"/],
    [['--bouncer-port', 'x'], /--bouncer-port must be a port number, got "x"/],
    // A tier that cannot be tuned is refused before anything starts, not as an unexpected error.
    [
      ['--tier', 'custom', '--cores', '2', '--ram', '2GB', '--users', '3000'],
      /cannot serve 3,000 concurrent users/,
    ],
  ])('refuses %j with exit code 2 and one line, before anything starts', (args, message) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-up-usage-'));
    try {
      const r = powerhouse('up', '--data-dir', dataDir, ...(args as string[]));
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message as RegExp);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.out).toBe('');
      expect(fs.readdirSync(dataDir)).toEqual([]);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('powerhouse render', () => {
  it('writes every file and the same role setup as the hosts, with the passwords named as there', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-render-'));
    try {
      const r = powerhouse('render', '--tier', 'powerhouse', '--out', out);
      expect(r.code).toBe(0);
      for (const f of [
        'postgresql/postgresql.conf',
        'postgresql/pg_hba.conf',
        'pgbouncer/pgbouncer.ini',
        'bin/powerhouse-db-setup',
        'bin/powerhouse-tls-cert',
        'sql/roles.sql',
        'sql/userlist.sql',
        'secrets/passwords.env',
        'systemd/pgbouncer.service.d/90-powerhouse.conf',
        'sysctl/60-powerhouse.conf',
      ])
        expect([f, fs.existsSync(path.join(out, f))]).toEqual([f, true]);
      // A host's files: PgBouncer requires client TLS there.
      expect(fs.readFileSync(path.join(out, 'pgbouncer/pgbouncer.ini'), 'utf8')).toMatch(
        /^client_tls_sslmode = require$/m,
      );
      const roles = fs.readFileSync(path.join(out, 'sql/roles.sql'), 'utf8');
      expect(roles).toContain(`ALTER ROLE "powerhouse_app" SET statement_timeout = '60000ms';`);
      expect(roles).toContain('\\getenv app_password POWERHOUSE_APP_PASSWORD');
      expect(roles).not.toContain('app-pass-given-in-env');
      const env = fs.readFileSync(path.join(out, 'secrets/passwords.env'), 'utf8');
      // The given password is used under the same variable name the hosts use; the others are generated.
      expect(env).toMatch(/^POWERHOUSE_APP_PASSWORD=app-pass-given-in-env$/m);
      expect(env).toMatch(/^POWERHOUSE_OWNER_PASSWORD=[A-Za-z0-9]{40}$/m);
      expect(fs.statSync(path.join(out, 'secrets/passwords.env')).mode & 0o777).toBe(0o600);
      expect(fs.readFileSync(path.join(out, 'postgresql/postgresql.conf'), 'utf8')).toMatch(
        /^shared_buffers = 16GB/m,
      );
      expect(fs.readFileSync(path.join(out, 'sysctl/60-powerhouse.conf'), 'utf8')).toMatch(
        /^vm\.nr_hugepages = \d+$/m,
      );
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});

// The baseline: PostgreSQL's own client loading a file with `psql \copy`, connected straight to the
// server (no PgBouncer, no worker). The password goes through the environment, never argv.
import { spawn } from 'node:child_process';

export interface PgConnection {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export function connectionFromUrl(url: string): PgConnection {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.slice(1)),
  };
}

export interface PsqlCopyResult {
  rows: number;
  ms: number;
}

/**
 * `\copy table (columns) FROM 'file'` in COPY text format (psql's default) or binary. Resolves with the
 * row count psql reports; rejects with psql's stderr when it fails.
 */
export function psqlCopy(
  conn: PgConnection,
  table: string,
  columns: readonly string[],
  file: string,
  format: 'text' | 'binary' = 'text',
  psqlBinary = 'psql',
): Promise<PsqlCopyResult> {
  if (/['\n\\]/.test(file))
    throw new Error(`psqlCopy: file path must not contain quotes, backslashes or newlines: ${file}`);
  const opts = format === 'binary' ? ' WITH (FORMAT binary)' : '';
  const command = `\\copy ${table} (${columns.join(', ')}) FROM '${file}'${opts}`;
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(psqlBinary, ['-X', '-v', 'ON_ERROR_STOP=1', '-c', command], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        PGHOST: conn.host,
        PGPORT: String(conn.port),
        PGUSER: conn.user,
        PGPASSWORD: conn.password,
        PGDATABASE: conn.database,
        PGAPPNAME: 'bench-psql-copy',
      },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', (e) => reject(new Error(`could not run ${psqlBinary}: ${e.message}`)));
    child.once('close', (code) => {
      const ms = performance.now() - t0;
      const m = /COPY (\d+)/.exec(out);
      if (code !== 0 || !m) {
        reject(
          new Error(
            `psql \\copy of ${file} into ${table} failed (exit ${code}): ${err.trim() || out.trim()}`,
          ),
        );
        return;
      }
      resolve({ rows: Number(m[1]), ms });
    });
  });
}

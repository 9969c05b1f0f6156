// Process entry of the ingest worker: `tsx ingest/main.ts [config.json]` (or POWERHOUSE_INGEST_CONFIG).
// SIGTERM/SIGINT: graceful shutdown; SIGHUP: re-read the config (tokens, tables) and the tables' columns.
// `--migrate [config.json]`: the migrate step of a deployment, run before the worker starts and on reload,
// with the owner role's URL in POWERHOUSE_OWNER_DATABASE_URL; the worker itself never gets that URL.
import { Pool } from 'pg';
import { counted } from '../config-templates/plural';
import { ConfigError, loadIngestConfig, OWNER_URL_ENV } from './config';
import { migrate } from './migrations';
import { createIngestServer } from './server';

async function migrateStep(file: string | undefined): Promise<never> {
  const ownerUrl = process.env[OWNER_URL_ENV];
  if (!ownerUrl) {
    process.stderr.write(`ingest --migrate: ${OWNER_URL_ENV} is not set (the owner role's database URL)\n`);
    process.exit(2);
  }
  const config = loadIngestConfig({ file });
  const pool = new Pool({ connectionString: ownerUrl, max: 1, connectionTimeoutMillis: 10_000 });
  let code = 0;
  try {
    const { applied, granted } = await migrate(pool, { tables: config.tables });
    const privileges =
      granted === null
        ? 'privileges left as they are (not the owner role)'
        : `privileges set on ${counted(granted.length, 'allowlisted table')}`;
    process.stdout.write(
      `ingest --migrate: ${applied.length ? `applied migrations ${applied.join(', ')}` : 'schema up to date'}; ${privileges}\n`,
    );
  } catch (err) {
    // pg and MigrationError messages name the object and the problem, never the URL.
    process.stderr.write(`ingest --migrate: ${(err as Error).message}\n`);
    code = 1;
  }
  await pool.end().catch(() => undefined);
  process.exit(code);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const migrateOnly = args[0] === '--migrate';
  const file = (migrateOnly ? args[1] : args[0]) ?? process.env.POWERHOUSE_INGEST_CONFIG;
  if (migrateOnly) {
    try {
      await migrateStep(file);
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`${err.message}\n`);
        process.exit(2);
      }
      throw err;
    }
  }
  let config;
  try {
    config = loadIngestConfig({ file });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const server = createIngestServer(config, { defaultMetrics: true });
  const { log } = server;
  try {
    await server.listen();
  } catch (err) {
    log.fatal({ err }, 'ingest worker failed to start');
    await server.close().catch(() => undefined);
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    server.close().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => {
    let next;
    try {
      next = loadIngestConfig({ file });
    } catch (err) {
      // ConfigError messages name the file and the bad paths; tokens are stored as hashes only.
      log.error({ err }, 'config reload failed; keeping the running configuration');
      return;
    }
    server.reload(next).catch(() => undefined); // logged by reload()
  });
}

void main();

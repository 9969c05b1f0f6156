// Process entry of the ingest worker: `tsx ingest/main.ts [config.json]` (or POWERHOUSE_INGEST_CONFIG).
// SIGTERM/SIGINT: graceful shutdown; SIGHUP: re-read the config (tokens, tables) and the tables' columns.
import { ConfigError, loadIngestConfig } from './config';
import { createIngestServer } from './server';

async function main(): Promise<void> {
  const file = process.argv[2] ?? process.env.POWERHOUSE_INGEST_CONFIG;
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

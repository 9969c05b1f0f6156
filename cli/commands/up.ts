// `npm start` / `powerhouse up`: the whole stack on this machine, tuned for this machine (`detect`).
import path from 'node:path';
import { Command } from 'commander';
import { DEFAULT_PORTS, ROLES, type Tier } from '../../config-templates';
import { MEDIA_TYPES } from '../../ingest/formats/content-type';
import { ActionableError } from '../../stacks/local-processes/actionable-error';
import { localDataDir } from '../../stacks/local-processes/data-dir';
import { portIsFree } from '../../stacks/local-processes/free-port';
import { stopLeftovers } from '../../stacks/local-processes/leftover-processes';
import { findPgBouncer } from '../../stacks/local-processes/pgbouncer-process';
import type { LocalStack } from '../../stacks/local-processes/stack';
import { portNumber } from '../flag-values';
import { counted } from '../../config-templates/plural';
import { exitWithFailure } from '../report-error';
import { findPgBackRest } from '../../stacks/backup/find-pgbackrest';
import { addTierOptions, tierFromFlags, type TierFlags } from '../tier-options';

/** How to install PgBouncer on Debian/Ubuntu: as root there is no sudo to ask (and often none installed). */
export function pgbouncerInstallCommand(isRoot = process.getuid?.() === 0): string {
  return `${isRoot ? '' : 'sudo '}apt-get install -y pgbouncer`;
}

/** 6432 unless something holds it (a distribution's PgBouncer service often does): then a free port, said aloud. */
async function defaultBouncerPort(out: (s: string) => void): Promise<number> {
  if (await portIsFree(DEFAULT_PORTS.pgbouncer)) return DEFAULT_PORTS.pgbouncer;
  out(
    `port ${DEFAULT_PORTS.pgbouncer} is taken (a system PgBouncer?): using a free port; --bouncer-port picks one`,
  );
  return 0;
}

export function upCommand(): Command {
  const cmd = new Command('up').description(
    'start PostgreSQL 16, PgBouncer and the ingest worker on this machine (Ctrl-C stops them)',
  );
  addTierOptions(cmd, 'detect')
    .option('--data-dir <dir>', 'where data, configs and secrets live (reused on the next start)', '.data')
    .option('--port <port>', 'ingest worker port (127.0.0.1)', '8080')
    .option(
      '--bouncer-port <port>',
      'PgBouncer port (127.0.0.1); default 6432, or a free one if 6432 is taken',
    )
    .option('--log-level <level>', 'worker log level (logs go to DATA_DIR/ingest.log)', 'info')
    .option('--no-pgbouncer', 'do not start PgBouncer: the worker connects to PostgreSQL directly')
    .option(
      '--backup-repo <dir>',
      'archive WAL and keep backups in this pgBackRest repository (pgBackRest 2.46+; powerhouse backup/backups/restore with --profile DATA_DIR/backup.json)',
    );
  cmd.action(
    async (
      o: TierFlags & {
        dataDir: string;
        port: string;
        bouncerPort?: string;
        logLevel: string;
        pgbouncer: boolean;
        backupRepo?: string;
      },
    ) => {
      // Usage errors (exit 2, see main.ts) before anything starts; from here on, failures exit 1 in one line.
      const tier = tierFromFlags(o);
      const ingestPort = portNumber('port', o.port);
      const bouncerPortFlag =
        o.bouncerPort !== undefined ? portNumber('bouncer-port', o.bouncerPort) : undefined;
      await up(tier, ingestPort, bouncerPortFlag, o).catch((err: unknown) =>
        exitWithFailure('powerhouse up', err),
      );
    },
  );
  return cmd;
}

async function up(
  tier: Tier,
  ingestPort: number,
  bouncerPortFlag: number | undefined,
  o: { dataDir: string; logLevel: string; pgbouncer: boolean; backupRepo?: string },
): Promise<void> {
  const dataDir = path.resolve(o.dataDir);
  // A closed terminal must not turn the orderly stop (SIGHUP below) into a crash on the next write.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
  const out = (s = '') => process.stdout.write(s + '\n');
  const hasBouncer = o.pgbouncer && findPgBouncer() !== null;
  if (!o.pgbouncer) {
    out('--no-pgbouncer: the worker will connect to PostgreSQL directly (no pooling).');
  } else if (!hasBouncer) {
    out('PgBouncer is not installed: the worker will connect to PostgreSQL directly (no pooling).');
    out(`  Install it for the real setup:  ${pgbouncerInstallCommand()}`);
  }
  out(
    `starting tier "${tier.name}" (${counted(tier.hardware.cores, 'core')}, ${(tier.hardware.ramMiB / 1024).toFixed(1)} GiB RAM, ${counted(tier.users, 'uploader')}) in ${dataDir} …`,
  );
  // What an earlier start that was killed left running holds this data dir and its ports: stop it first.
  await stopLeftovers(dataDir, { log: out });
  await assertPortFree(ingestPort, '--port');
  if (hasBouncer && bouncerPortFlag !== undefined) await assertPortFree(bouncerPortFlag, '--bouncer-port');

  const envToken = process.env.POWERHOUSE_INGEST_TOKEN || undefined;
  // Loaded here, not at the top: `powerhouse tune` should not pay for the worker's modules.
  type StackModule = typeof import('../../stacks/local-processes/stack');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { startLocalStack } = require('../../stacks/local-processes/stack') as StackModule;
  const backup = o.backupRepo
    ? { pgbackrest: findPgBackRest(), repoPath: path.resolve(o.backupRepo) }
    : undefined;
  const stack = await startLocalStack({
    backup,
    dataDir,
    tier,
    ingestPort,
    bouncerPort: bouncerPortFlag ?? (await defaultBouncerPort(out)),
    token: envToken,
    logLevel: o.logLevel as never,
    noPgBouncer: !hasBouncer,
    onLeftover: out,
  });
  try {
    await serve(stack, dataDir, envToken, out);
  } catch (err) {
    await stack.stop(); // a failure after the start leaves nothing running
    throw err;
  }
}

async function serve(
  stack: LocalStack,
  dataDir: string,
  envToken: string | undefined,
  out: (s?: string) => void,
) {
  // Listening from here to the end (not once): a second Ctrl-C while stopping must not cut the stop short.
  const signalled = new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = () => {
      // Later signals (another Ctrl-C, or copies that npm and tsx relay under `npm start`) get one note.
      if (++signals === 1) resolve();
      else if (signals === 2)
        out('still stopping (PostgreSQL and PgBouncer are killed if they take too long) …');
    };
    for (const sig of STOP_SIGNALS) process.on(sig, onSignal);
  });
  const base = stack.ingestUrl;
  const viaBouncer = stack.bouncer ? `PgBouncer 127.0.0.1:${stack.bouncer.port}` : 'PostgreSQL directly';
  out('');
  out(`PostgreSQL 16   127.0.0.1:${stack.pg.port}   (pid ${stack.pg.pid}, data: ${stack.pg.dataDir})`);
  if (stack.bouncer)
    out(
      `PgBouncer       127.0.0.1:${stack.bouncer.port}   (pid ${stack.bouncer.pid}, log: ${stack.bouncer.logFile})`,
    );
  out(
    `ingest worker   ${base}   → ${viaBouncer}   (in this process, pid ${process.pid}, log: ${localDataDir(dataDir).workerLog})`,
  );
  out('');
  out(`token           ${envToken ? '(from POWERHOUSE_INGEST_TOKEN)' : stack.token}`);
  out(`app DSN         ${stack.appDsn}`);
  out(
    `                (role ${ROLES.app}: reads and writes rows, no DDL; ${stack.bouncer ? 'PgBouncer without TLS: it listens on 127.0.0.1 only' : 'PostgreSQL on 127.0.0.1 only'})`,
  );
  out(`secrets         ${localDataDir(dataDir).secrets} (0600)`);
  out(`dashboard       ${base}/admin   (sign in with admin_token from the secrets file)`);
  out(
    `connect info    ${localDataDir(dataDir).connectInfo} (0600: endpoint, tables, token; for the SDK, powerhouse upload/doctor/token)`,
  );
  out(
    stack.backupProfile
      ? `backups         WAL archived within ${stack.settings.backup.archiveTimeoutSeconds.value} s; powerhouse backup|backups|restore --profile ${stack.backupProfile}`
      : 'backups         NONE: this stack keeps no backups (start it with --backup-repo DIR to archive WAL with pgBackRest)',
  );
  out('');
  out('try it:');
  out(`  printf 'tm_id,source,target\\n1,Hello,Hallo\\n1,World,Welt\\n' | \\`);
  out(`    curl -sS -X POST ${base}/v1/tables/tm_entries/uploads \\`);
  out(`      -H "Authorization: Bearer ${envToken ? '$POWERHOUSE_INGEST_TOKEN' : stack.token}" \\`);
  out(`      -H 'Content-Type: ${MEDIA_TYPES.csv}' -H "Idempotency-Key: $(date +%s)" --data-binary @-`);
  out(`  psql "${stack.appDsn}" -c 'select count(*) from tm_entries'`);
  out('a token per translator (works at once, no restart), and who uploaded what:');
  out(`  npm run powerhouse -- token add anna --out anna.json${dataDirFlag(dataDir)}`);
  out(`  npm run powerhouse -- uploads --since 1h${dataDirFlag(dataDir)}`);
  out('');
  out('Ctrl-C stops everything.');
  await signalled;
  out('stopping …');
  await stack.stop();
  out('stopped.');
  process.exit(0);
}

/** ` --data-dir D` when the commands would not find this data dir by default (./.data). */
function dataDirFlag(dataDir: string): string {
  return path.resolve(dataDir) === path.resolve('.data') ? '' : ` --data-dir ${dataDir}`;
}

// SIGHUP: the terminal was closed. Stopping in order beats dying and leaving the servers to the next start.
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

async function assertPortFree(p: number, flag: string): Promise<void> {
  if (p === 0 || (await portIsFree(p))) return;
  throw new ActionableError(
    `127.0.0.1:${p} is already in use by another program: stop it, or choose another port with ${flag} (0 picks a free one)`,
  );
}

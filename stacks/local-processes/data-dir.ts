// The layout of a local stack's data directory, once: the stack writes it, the next start's takeover of what
// a killed start left (leftover-processes.ts) reads it.
import path from 'node:path';

export interface LocalDataDir {
  readonly root: string;
  /** PostgreSQL's data directory (and its socket directory). */
  readonly postgres: string;
  /** PgBouncer's ini, userlist, pid file, socket and log. */
  readonly pgbouncer: string;
  /** The child worker's config, pid file and log. */
  readonly workerConfig: string;
  readonly workerPid: string;
  readonly workerLog: string;
  /** Every secret of the stack (0600). */
  readonly secrets: string;
  /** pgBackRest's config directory (pgbackrest.conf, conf.d/repository.conf) and its spool, log and lock dirs. */
  readonly pgbackrest: string;
  /** The backup commands' profile (`powerhouse backups --profile …`) and the probe's status file. */
  readonly backupProfile: string;
  readonly backupStatus: string;
  /** What a client needs to reach this stack (config-templates/connect-info.ts), with its token (0600). */
  readonly connectInfo: string;
}

export function localDataDir(dataDir: string): LocalDataDir {
  const root = path.resolve(dataDir);
  return {
    root,
    postgres: path.join(root, 'postgres'),
    pgbouncer: path.join(root, 'pgbouncer'),
    workerConfig: path.join(root, 'ingest.json'),
    workerPid: path.join(root, 'ingest.pid'),
    workerLog: path.join(root, 'ingest.log'),
    secrets: path.join(root, 'secrets.json'),
    pgbackrest: path.join(root, 'pgbackrest'),
    backupProfile: path.join(root, 'backup.json'),
    backupStatus: path.join(root, 'backup-status.json'),
    connectInfo: path.join(root, 'connect-info.json'),
  };
}

// pgBackRest and PostgreSQL 16 as the Debian/PGDG packages lay them out: the same on a Hetzner host and in the
// postgres image of the Docker stack. Only the data directory, the service commands and the files the target
// writes differ.
import { DEFAULT_RENDER_OPTIONS, ROLES } from '../../config-templates';
import type { BackupTarget } from '../deployment';

export const PACKAGED = {
  pgbackrest: '/usr/bin/pgbackrest',
  pgbackrestConfig: '/etc/pgbackrest',
  pgBinDir: '/usr/lib/postgresql/16/bin',
  socketDir: DEFAULT_RENDER_OPTIONS.pgSocketDir,
  osUser: 'postgres',
} as const;

export interface PackagedBackupOptions {
  readonly dataDir: string;
  readonly pgPort: number;
  /** postgresql.conf outside the data directory (Debian's cluster layout). */
  readonly configDir?: string;
  readonly startCommand: string;
  readonly stopCommand: string;
  readonly passFile: string;
  readonly repository: string;
  readonly statusFile: string;
}

export function packagedBackupTarget(o: PackagedBackupOptions): BackupTarget {
  return {
    bin: PACKAGED.pgbackrest,
    configPath: PACKAGED.pgbackrestConfig,
    paths: {
      dataDir: o.dataDir,
      pgPort: o.pgPort,
      pgSocketDir: PACKAGED.socketDir,
      pgUser: ROLES.superuser,
      spoolPath: '/var/spool/pgbackrest',
      logPath: '/var/log/pgbackrest',
      lockPath: '/tmp/pgbackrest',
    },
    profile: {
      osUser: PACKAGED.osUser,
      postgres: {
        binDir: PACKAGED.pgBinDir,
        dataDir: o.dataDir,
        port: o.pgPort,
        socketDir: PACKAGED.socketDir,
        ...(o.configDir ? { configDir: o.configDir } : {}),
        startCommand: o.startCommand,
        stopCommand: o.stopCommand,
      },
      passFile: o.passFile,
      repository: o.repository,
    },
    statusFile: o.statusFile,
  };
}

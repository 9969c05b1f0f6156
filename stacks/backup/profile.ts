// What the backup commands need to know about a deployment: where pgBackRest and its config are, which OS user
// runs it, where PostgreSQL's binaries and data live. A host has /etc/powerhouse/backup.json (written by the
// stack); the restore drill writes one for its own temp paths and then runs the very same commands.
import fs from 'node:fs';
import { z } from 'zod';
import { BACKUP_STANZA } from '../../config-templates';
import { ActionableError } from '../local-processes/actionable-error';

export const DEFAULT_PROFILE_PATH = '/etc/powerhouse/backup.json';
export const PROFILE_ENV = 'POWERHOUSE_BACKUP_CONFIG';

export const backupProfileSchema = z.object({
  stanza: z.string().min(1).default(BACKUP_STANZA),
  pgbackrest: z.object({
    bin: z.string().min(1).default('pgbackrest'),
    /** pgBackRest's config directory: pgbackrest.conf and conf.d/ (the repository). */
    configPath: z.string().min(1).default('/etc/pgbackrest'),
  }),
  /** The OS user PostgreSQL and pgBackRest run as; commands run as root switch to it. */
  osUser: z.string().min(1).default('postgres'),
  postgres: z.object({
    /** pg_ctl and postgres of the cluster's major version. */
    binDir: z.string().min(1),
    /** The live cluster's data directory. */
    dataDir: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    socketDir: z.string().min(1),
    /**
     * Where the live cluster's postgresql.conf, conf.d/ and pg_hba.conf are when they are not in the data directory
     * (Debian: /etc/postgresql/16/main); a copy restored elsewhere reads them.
     */
    configDir: z.string().min(1).optional(),
    /** How an operator starts and stops the live server here (printed, never run by restore). */
    startCommand: z.string().min(1),
    stopCommand: z.string().min(1),
  }),
  /** libpq password file for pgBackRest's superuser connection (PGPASSFILE). */
  passFile: z.string().min(1).optional(),
  /** Where `powerhouse backup-status --write` leaves the status the worker reads. */
  statusFile: z.string().min(1),
  /** The repository as an operator names it (no keys). */
  repository: z.string().min(1),
});
export type BackupProfile = z.infer<typeof backupProfileSchema>;
export type BackupProfileInput = z.input<typeof backupProfileSchema>;

/** The profile at `file` (default POWERHOUSE_BACKUP_CONFIG or the host's), validated. */
export function loadBackupProfile(file?: string): BackupProfile {
  const path = file ?? process.env[PROFILE_ENV] ?? DEFAULT_PROFILE_PATH;
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ActionableError(
      code === 'ENOENT'
        ? `no backup profile at ${path}: run this on a db-powerhouse host, or give --profile FILE (or ${PROFILE_ENV})`
        : `cannot read backup profile ${path}: ${(err as Error).message}`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ActionableError(`backup profile ${path} is not valid JSON`);
  }
  const parsed = backupProfileSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ActionableError(`backup profile ${path} is invalid: ${lines.join('; ')}`);
  }
  return parsed.data;
}

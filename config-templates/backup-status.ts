// The backup health a host's probe (`powerhouse backup-status --write FILE`, run by a timer as the backup user)
// leaves for the ingest worker, which may not read the repository itself (it holds none of its keys). One
// schema, written by stacks/backup and read by ingest/: the worker shows it in /readyz and /metrics.
import { z } from 'zod';

export const BACKUP_STATUS_VERSION = 1;

export const backupSetSchema = z.object({
  /** pgBackRest's label, e.g. 20261201-120000F or 20261201-120000F_20261202-010000D. */
  label: z.string().min(1),
  type: z.enum(['full', 'diff', 'incr']),
  startedAt: z.string().datetime({ offset: true }),
  stoppedAt: z.string().datetime({ offset: true }),
  /** The database's size as backed up. */
  sizeBytes: z.number().int().nonnegative(),
  /** What the set takes in the repository (compressed, without the files it references in earlier sets). */
  repoSizeBytes: z.number().int().nonnegative(),
  /** The WAL a restore of this set needs at least (first and last segment). */
  walStart: z.string().nullable(),
  walStop: z.string().nullable(),
});
export type BackupSet = z.infer<typeof backupSetSchema>;

export const backupStatusSchema = z.object({
  version: z.literal(BACKUP_STATUS_VERSION),
  /** When the probe ran (ISO 8601). A status older than the worker's limit is shown as stale. */
  checkedAt: z.string().datetime({ offset: true }),
  stanza: z.string().min(1),
  /** The repository as an operator names it (type and location, never a key). */
  repository: z.string().min(1),
  /** The probe could read the repository. */
  reachable: z.boolean(),
  /** Why not, or what pgBackRest reported wrong (secrets never appear: pgBackRest prints none). */
  error: z.string().nullable(),
  /** The newest backup pgBackRest lists as complete, or null when there is none. */
  lastGood: backupSetSchema.nullable(),
  backupCount: z.number().int().nonnegative(),
  /** The archived WAL range in the repository (segment names), null when none is archived. */
  walMin: z.string().nullable(),
  walMax: z.string().nullable(),
  /** A backup holds pgBackRest's lock right now. */
  backupRunning: z.boolean(),
});
export type BackupStatus = z.infer<typeof backupStatusSchema>;

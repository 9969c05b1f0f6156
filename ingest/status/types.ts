// The body of GET /v1/admin/status (docs/INGEST-API.md, "Ops status"): what the dashboard at /admin shows, so
// scripts read the same numbers. Types only: the dashboard's browser code imports them too.

/** An error a section could not be read with; the other sections are still answered. */
export interface SectionError {
  readonly error: string;
}

export interface LiveUpload {
  readonly uploadId: string;
  /** The token's name (as upload records name it), never the token. */
  readonly token: string;
  readonly table: string;
  /** queued: waiting for a COPY turn, no body byte read yet. */
  readonly state: 'queued' | 'receiving' | 'committing';
  /** Data rows read so far (not yet stored). */
  readonly rows: number;
  /** Request body bytes received so far. */
  readonly bytes: number;
  /** The request's Content-Length; null for a chunked body (no total: an indeterminate bar). */
  readonly bytesTotal: number | null;
  readonly startedAt: string;
  readonly elapsedSeconds: number;
  /** rows / elapsedSeconds: the upload's average so far. */
  readonly rowsPerSecond: number;
  readonly bytesPerSecond: number;
}

export interface FinishedUploadView {
  readonly uploadId: string;
  readonly token: string;
  readonly table: string;
  readonly state: 'committed' | 'failed';
  /** Stored rows when committed; rows read before the failure when failed (none stored). */
  readonly rows: number;
  readonly bytes: number;
  readonly startedAt: string;
  readonly finishedAt: string;
  /** The error body the upload was answered with ({"error": kind, "message", "row", …}); failed only. */
  readonly error?: Record<string, unknown>;
}

export interface ThroughputSample {
  /** End of the interval, ms since the epoch. */
  readonly t: number;
  readonly rowsPerSecond: number;
  readonly bytesPerSecond: number;
  /** Uploads in flight at the end of the interval. */
  readonly inFlight: number;
}

export interface WorkerStatus {
  readonly pid: number;
  readonly startedAt: string;
  readonly uploadsInFlight: number;
  readonly maxConcurrentUploads: number;
  /** COPY backends this worker drives at once (uploads and extra parts) and the uploads waiting for one. */
  readonly copyTurns: { readonly limit: number; readonly running: number; readonly waiting: number };
  /** This worker's upload pool (node-postgres): connections open, idle, and requests waiting for one. */
  readonly uploadPool: { readonly total: number; readonly idle: number; readonly waiting: number };
  readonly live: readonly LiveUpload[];
  readonly throughput: {
    readonly intervalSeconds: number;
    readonly windowSeconds: number;
    /** Oldest first; at most windowSeconds / intervalSeconds. */
    readonly samples: readonly ThroughputSample[];
  };
  /** p95 of the wait from request to transaction begun over the window; null without an upload in it. */
  readonly queueWaitP95Seconds: number | null;
  readonly lastHour: {
    readonly committed: number;
    readonly failed: number;
    /** Failed uploads by error kind (client_aborted included). */
    readonly failedByKind: Readonly<Record<string, number>>;
    /** Newest first, at most 50. */
    readonly recent: readonly FinishedUploadView[];
  };
}

export interface DatabaseUploadRecord {
  readonly uploadId: string;
  readonly token: string;
  readonly table: string;
  readonly status: 'committed' | 'failed';
  readonly rows: number;
  readonly bytes: number;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly errorKind: string | null;
}

export interface DatabaseStatus {
  readonly maxConnections: number;
  readonly connections: {
    /** Backends connected to any database (pg_stat_database.numbackends): what max_connections bounds. */
    readonly total: number;
    /** Connections whose state the worker's role may see, by pg_stat_activity.state. */
    readonly byState: Readonly<Record<string, number>>;
    /** total minus those: other roles' sessions, whose state PostgreSQL shows only to pg_read_all_stats. */
    readonly stateHidden: number;
  };
  readonly databaseBytes: number;
  readonly tables: readonly {
    readonly table: string;
    readonly totalBytes: number;
    /** pg_class.reltuples: the planner's estimate (-1 before the first VACUUM/ANALYZE). */
    readonly rowsEstimate: number;
  }[];
  readonly checkpoints: {
    /** Since the statistics reset (pg_stat_bgwriter). */
    readonly timed: number;
    readonly requested: number;
    readonly writeSeconds: number;
    readonly syncSeconds: number;
    readonly statsResetAt: string | null;
  };
  /** Current WAL position in bytes (pg_current_wal_lsn() - '0/0'). */
  readonly walBytes: number;
  /** WAL written per second over the last ~10-60 s of readings; null until two readings 5 s apart. */
  readonly walBytesPerSecond: number | null;
  /** The oldest transaction among the sessions the worker's role may see (see connections.stateHidden). */
  readonly oldestTransaction: {
    readonly pid: number;
    readonly role: string;
    readonly state: string;
    readonly applicationName: string;
    readonly ageSeconds: number;
  } | null;
  /** powerhouse.uploads of the last hour: every worker on this database. */
  readonly lastHour: {
    readonly committed: number;
    readonly failed: number;
    /** Rows and body bytes of the committed uploads. */
    readonly rows: number;
    readonly bytes: number;
    readonly failedByKind: Readonly<Record<string, number>>;
    /** Newest first, at most 20. */
    readonly recent: readonly DatabaseUploadRecord[];
  };
}

export interface PgBouncerStatus {
  /** SHOW POOLS rows as PgBouncer prints them (as in GET /v1/admin/pgbouncer). */
  readonly pools: readonly Record<string, string | number | null>[];
}

/** The fields of /readyz's `backup` object the dashboard shows (the status carries all of them). */
export interface BackupView {
  readonly status: string;
  readonly message: string;
  readonly lastGoodBackupAt: string | null;
  readonly lastGoodBackupAgeSeconds: number | null;
  readonly archiveLagBytes: number | null;
}

export interface AdminStatus {
  readonly generatedAt: string;
  /**
   * When `database` and `pgbouncer` were read: generatedAt, or earlier when the reading under way took over
   * 300 ms (a busy database) and the last one is shown meanwhile.
   */
  readonly readAt: string;
  /** How often the dashboard asks again; the answer is computed at most once per second for all viewers. */
  readonly pollMs: number;
  readonly worker: WorkerStatus;
  readonly database: DatabaseStatus | SectionError;
  /** null: no pgbouncerAdminUrl in the worker's config (the worker connects to PostgreSQL directly). */
  readonly pgbouncer: PgBouncerStatus | SectionError | null;
  /** The worker's backup health, the `backup` object of /readyz; null without a backup section in its config. */
  readonly backup: BackupView | null;
}

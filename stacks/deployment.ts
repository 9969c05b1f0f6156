// What a deployment IS, once, for every target (Hetzner host, Docker/compose, the local processes): its
// secrets, the DSN of each role, the role bootstrap (config-templates/roles.ts), the worker's config, the
// migrate step and render()'s files. Targets only render this description into their own syntax: user-data,
// containers, or processes. Secrets appear as placeholders unless the caller passes their values.
import {
  APP_POOL_DB,
  archiveCommand,
  renderPgBackRestConf,
  type BackupSettings,
  type PgBackRestPaths,
  bootstrapSteps,
  DATABASE,
  dsn,
  INGEST_POOL_DB,
  placeholder,
  render,
  ROLES,
  type BootstrapStep,
  type RenderedFile,
  type RenderOptions,
  type SecretForm,
  type SecretName,
  type Settings,
  type TableRef,
} from '../config-templates';
import { hashToken, limitsFromSettings, parseIngestConfig, type IngestConfigInput } from '../ingest/config';
import { DEFAULT_TABLES } from '../ingest/migrations';
import type { BackupProfileInput } from './backup/profile';

export type TargetKind = 'hetzner' | 'docker' | 'local';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface DeploymentTarget {
  readonly kind: TargetKind;
  /** Where PgBouncer and the migrate step reach PostgreSQL. */
  readonly postgres: Endpoint;
  /**
   * Where the worker (and the app, on the server) reach PgBouncer; null: no PgBouncer, everything connects to
   * PostgreSQL directly. `caFile`: PgBouncer requires client TLS and this file holds its certificate, which the
   * worker verifies (sslmode=verify-full).
   */
  readonly pgbouncer: (Endpoint & { readonly caFile?: string }) | null;
  readonly workerListen: Endpoint;
  /** render() options for this target's paths and listen addresses. */
  readonly renderOptions: Partial<RenderOptions>;
  /** pgBackRest on this target; absent: no backups (the worker's /readyz says so, with noBackupReason). */
  readonly backup?: BackupTarget;
  readonly noBackupReason?: string;
}

/** Where pgBackRest, its config and the backup commands' files are on a target. */
export interface BackupTarget {
  /** pgBackRest's binary as archive_command and the commands call it. */
  readonly bin: string;
  /** pgBackRest's config directory (pgbackrest.conf; the target writes conf.d/repository.conf). */
  readonly configPath: string;
  readonly paths: PgBackRestPaths;
  /** The backup profile's target-specific part: the OS user, PostgreSQL's binaries and service commands. */
  readonly profile: Pick<BackupProfileInput, 'osUser' | 'postgres' | 'passFile' | 'repository'>;
  /** The status file the probe writes and the worker reads. */
  readonly statusFile: string;
}

/** The backup part of a deployment: pgbackrest.conf, the commands' profile, the worker's view. */
export interface DeploymentBackup {
  readonly settings: BackupSettings;
  readonly conf: string;
  readonly profile: BackupProfileInput;
}

/** Every role's DSN. `owner` goes straight to PostgreSQL (it is not in PgBouncer's userlist). */
export interface DeploymentDsns {
  readonly superuser: string;
  readonly owner: string;
  /** The desktop app: PgBouncer's transaction pool (or PostgreSQL directly without PgBouncer). */
  readonly app: string;
  /** The worker's uploads: PgBouncer's ingest entry (or directly). */
  readonly ingest: string;
  /** PgBouncer's console as the stats user; undefined without PgBouncer. */
  readonly bouncerStats?: string;
}

export interface Deployment {
  readonly settings: Settings;
  readonly target: DeploymentTarget;
  /** The allowlist: the tables the migrate step grants on and the worker accepts uploads for. */
  readonly tables: readonly TableRef[];
  readonly dsn: DeploymentDsns;
  /** The worker's config: ingest role only; the owner's URL reaches the migrate step alone. */
  readonly workerConfig: IngestConfigInput;
  /** The superuser's bootstrap: roles, passwords, database, ownership (and the upgrade of older layouts). */
  readonly bootstrap: readonly BootstrapStep[];
  /** postgresql.conf, pg_hba.conf, pgbouncer.ini, systemd drop-ins, sysctl. */
  readonly files: readonly RenderedFile[];
  /** null: this target keeps no backups. */
  readonly backup: DeploymentBackup | null;
}

/** A secret's text in the description: a placeholder by default, or the value (local stack). */
export type SecretSource = (name: SecretName, form: SecretForm) => string;

/** Token ids in upload records, logs and metrics: the same on every target. */
export const DEFAULT_TOKEN_ID = 'default';

export function describeDeployment(
  settings: Settings,
  target: DeploymentTarget,
  secret: SecretSource = placeholder,
): Deployment {
  const pg = target.postgres;
  const bouncer = target.pgbouncer;
  // PgBouncer with client TLS: verify its certificate (127.0.0.1 / the service name are in its SANs).
  const tls = bouncer?.caFile ? { sslmode: 'verify-full', sslrootcert: bouncer.caFile } : undefined;
  const role = (
    user: string,
    password: SecretName,
    at: Endpoint,
    database: string,
    params: Readonly<Record<string, string>> | undefined = tls,
  ) => dsn({ user, password: secret(password, 'value'), host: at.host, port: at.port, database, params });
  // Direct to PostgreSQL: no PgBouncer TLS parameters (an explicit undefined would take the default).
  const direct = (user: string, password: SecretName) => role(user, password, pg, DATABASE, {});
  const dsns: DeploymentDsns = {
    superuser: direct(ROLES.superuser, 'superuser_password'),
    owner: direct(ROLES.owner, 'owner_password'),
    app: bouncer ? role(ROLES.app, 'app_password', bouncer, APP_POOL_DB) : direct(ROLES.app, 'app_password'),
    ingest: bouncer
      ? role(ROLES.ingest, 'ingest_password', bouncer, INGEST_POOL_DB)
      : direct(ROLES.ingest, 'ingest_password'),
    bouncerStats: bouncer
      ? role(ROLES.bouncerStats, 'bouncer_stats_password', bouncer, 'pgbouncer')
      : undefined,
  };
  const tables = DEFAULT_TABLES;
  const workerConfig: IngestConfigInput = {
    databaseUrl: dsns.ingest,
    ...(dsns.bouncerStats ? { pgbouncerAdminUrl: dsns.bouncerStats } : {}),
    listen: { host: target.workerListen.host, port: target.workerListen.port },
    tables: tables.map((t) => ({ schema: t.schema, table: t.table })),
    tokens: [{ id: DEFAULT_TOKEN_ID, sha256: secret('ingest_token', 'sha256'), tables: '*' }],
    adminTokenSha256: secret('admin_token', 'sha256'),
    limits: limitsFromSettings(settings.ingest),
    // The migrate step (owner) runs before the worker starts; the worker has no right to change the schema.
    migrate: false,
    logLevel: 'info',
    backup: target.backup
      ? {
          enabled: true,
          statusFile: target.backup.statusFile,
          walMarginBytes: settings.backup.walMarginBytes.value,
        }
      : {
          enabled: false,
          walMarginBytes: settings.backup.walMarginBytes.value,
          reason: target.noBackupReason ?? 'this deployment has no backup repository',
        },
  };
  const b = target.backup;
  const backup: DeploymentBackup | null = b
    ? {
        settings: settings.backup,
        conf: renderPgBackRestConf(settings.backup, b.paths),
        profile: {
          ...b.profile,
          pgbackrest: { bin: b.bin, configPath: b.configPath },
          statusFile: b.statusFile,
        },
      }
    : null;
  const renderOptions: Partial<RenderOptions> = b
    ? { ...target.renderOptions, archiveCommand: archiveCommand(b.bin, b.configPath) }
    : target.renderOptions;
  return {
    settings,
    target,
    tables,
    dsn: dsns,
    workerConfig,
    bootstrap: bootstrapSteps(settings),
    files: render(settings, renderOptions),
    backup,
  };
}

/** Stand-in secrets: 40 letters, and the SHA-256 of that. */
export const standInSecret: SecretSource = (name, form) => {
  const value = name
    .replace(/[^a-z]/g, '')
    .padEnd(40, 'x')
    .slice(0, 40);
  return form === 'sha256' ? hashToken(value) : value;
};

/**
 * Check-time proof that a target's worker config passes the worker's own schema (with stand-in secrets):
 * a change to the worker's config contract fails `cdktf synth` and the tests, not the first boot.
 */
export function assertValidWorkerConfig(settings: Settings, target: DeploymentTarget): void {
  const d = describeDeployment(settings, target, standInSecret);
  parseIngestConfig(d.workerConfig, `ingest config of the ${target.kind} deployment`);
}

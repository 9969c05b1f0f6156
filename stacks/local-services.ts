// The local deployment as plain data: three containers (PostgreSQL 16, PgBouncer, the ingest worker) with
// render()'s files, health checks and ports on 127.0.0.1. The cdktf Docker stack and the docker-compose.yml
// are both generated from this one description, so they cannot drift apart.
import {
  DEFAULT_PORTS,
  placeholder,
  renderedFile,
  renderRepositoryConf,
  CIPHER_PASS_ENV,
  ROLES,
  SECRET_ENV,
  type RenderOptions,
  type Settings,
} from '../config-templates';
import { OWNER_URL_ENV } from '../ingest/config';
import { dbSetupFiles, dbSetupSecrets } from './database-setup';
import { DEFAULT_TOKEN_ID, describeDeployment, type DeploymentTarget } from './deployment';
import { tlsCertScript } from './host-files';
import { PACKAGED, packagedBackupTarget } from './backup/packaged';
import { DEFAULT_PROFILE_PATH } from './backup/profile';

/** Images built from this repository's Dockerfile (one target each). */
export const LOCAL_IMAGES = {
  postgres: { target: 'postgres', tag: 'db-powerhouse-postgres:local' },
  pgbouncer: { target: 'pgbouncer', tag: 'db-powerhouse-pgbouncer:local' },
  ingest: { target: 'ingest', tag: 'db-powerhouse-ingest:local' },
  /** PostgreSQL's image with Node.js and the host's `powerhouse`: the backup schedule and the status probe. */
  backup: { target: 'backup', tag: 'db-powerhouse-backup:local' },
} as const;

/** Directory in the postgres image (owned by postgres) where the first start leaves PgBouncer's userlist. */
export const AUTH_DIR = '/var/lib/powerhouse-auth';
/**
 * Directory in the pgbouncer image (owned by postgres, 0755) where PgBouncer's container makes its certificate
 * on first start: key and certificate in TLS_DIR/pgbouncer (group postgres, 0750), and a 0644 copy of the
 * certificate in TLS_DIR itself, which the worker (user node) reads through the same volume, mounted read-only.
 */
export const TLS_DIR = '/var/lib/powerhouse-tls';
export const BOUNCER_TLS = {
  dir: `${TLS_DIR}/pgbouncer`,
  keyFile: `${TLS_DIR}/pgbouncer/pgbouncer.key`,
  certFile: `${TLS_DIR}/pgbouncer/pgbouncer.crt`,
  caFile: `${TLS_DIR}/pgbouncer-ca.crt`,
} as const;
/** stacks/host-files.ts's certificate script, shipped into the pgbouncer container. */
const TLS_SCRIPT = '/usr/local/bin/powerhouse-tls-cert';
const PG_ETC = '/etc/powerhouse/postgresql';
const SQL_DIR = '/etc/powerhouse/sql';
const DB_SETUP = '/usr/local/bin/powerhouse-db-setup';
export const INGEST_CONFIG_PATH = '/etc/powerhouse/ingest.json';

/** Ports published on the host, always on 127.0.0.1. */
export interface LocalPorts {
  readonly pgbouncer: number;
  readonly ingest: number;
}
export const DEFAULT_LOCAL_PORTS: LocalPorts = {
  pgbouncer: DEFAULT_PORTS.pgbouncer,
  ingest: DEFAULT_PORTS.ingest,
};
export const LOOPBACK = '127.0.0.1';

export interface ServiceFile {
  readonly path: string;
  readonly content: string;
  readonly mode: string;
}

export interface LocalService {
  readonly name: 'postgres' | 'roles' | 'pgbouncer' | 'migrate' | 'ingest' | 'backup';
  readonly image: (typeof LOCAL_IMAGES)[keyof typeof LOCAL_IMAGES];
  readonly command?: readonly string[];
  /** Values may hold secret references (Terraform expressions or compose variables). */
  readonly env: Readonly<Record<string, string>>;
  readonly files: readonly ServiceFile[];
  readonly volumes: readonly {
    readonly volume: string;
    readonly path: string;
    readonly readOnly?: boolean;
  }[];
  readonly ports: readonly { readonly host: number; readonly container: number }[];
  /** Absent for a one-shot service. */
  readonly healthcheck?: {
    readonly test: readonly string[];
    readonly interval: string;
    readonly timeout: string;
    readonly retries: number;
    readonly startPeriod: string;
  };
  readonly nofile?: number;
  readonly shmSizeMiB?: number;
  /** Runs to completion on every start (role setup, migrate step); dependents wait for it to exit 0. */
  readonly oneShot?: boolean;
  /** The container's user, when not the image's. */
  readonly user?: string;
  readonly dependsOn: readonly LocalService['name'][];
}

export const LOCAL_VOLUMES = {
  data: 'powerhouse-pgdata',
  auth: 'powerhouse-auth',
  tls: 'powerhouse-tls',
  /** The pgBackRest repository (posix): copy it off the machine for protection against a lost disk. */
  backupRepo: 'powerhouse-backup-repo',
  /** The probe's status, read by the worker. */
  backupStatus: 'powerhouse-backup-status',
  /** PostgreSQL's socket directory, shared with the backup container (pgBackRest connects over it). */
  pgSocket: 'powerhouse-pg-socket',
} as const;

const PG_DATA = '/var/lib/postgresql/data';
const BACKUP_REPO = '/var/lib/pgbackrest-repo';
const BACKUP_STATUS_DIR = '/var/lib/powerhouse-backup';
/** Written by the backup container at start from the superuser's password in its environment. */
const BACKUP_PGPASS = '/tmp/powerhouse-pgpass';
const HOST_CLI = '/usr/local/bin/powerhouse';

/**
 * render() options inside the containers: PostgreSQL listens on the container network and admits only
 * `samenet` (the Docker network it is attached to) besides loopback; PgBouncer logs to stderr and requires
 * TLS of its clients (its port is published, and the worker reaches it over the Docker network).
 */
export const LOCAL_RENDER_OPTIONS: Partial<RenderOptions> = {
  pgListen: '*',
  pgHost: 'postgres', // PgBouncer reaches PostgreSQL by its service name
  bouncerListen: '*',
  allowedCidrs: ['samenet'],
  bouncer: {
    authFile: `${AUTH_DIR}/userlist.txt`,
    unixSocketDir: '/var/run/postgresql',
    logFile: undefined,
    pidFile: undefined,
    clientTls: { keyFile: BOUNCER_TLS.keyFile, certFile: BOUNCER_TLS.certFile },
  },
};

const sh = (script: string) => ['CMD-SHELL', script];

/**
 * The Docker stack as a deployment target: one container per service on a private network. The worker reaches
 * PgBouncer by its service name, one of the certificate's DNS names, and verifies it with the 0644 copy.
 */
export const DOCKER_TARGET: DeploymentTarget = {
  kind: 'docker',
  postgres: { host: 'postgres', port: DEFAULT_PORTS.postgres },
  pgbouncer: { host: 'pgbouncer', port: DEFAULT_PORTS.pgbouncer, caFile: BOUNCER_TLS.caFile },
  workerListen: { host: '0.0.0.0', port: DEFAULT_PORTS.ingest },
  renderOptions: LOCAL_RENDER_OPTIONS,
  backup: packagedBackupTarget({
    dataDir: PG_DATA,
    pgPort: DEFAULT_PORTS.postgres,
    startCommand: 'docker compose start postgres',
    stopCommand: 'docker compose stop postgres',
    passFile: BACKUP_PGPASS,
    repository: `posix ${BACKUP_REPO} (Docker volume ${LOCAL_VOLUMES.backupRepo})`,
    statusFile: `${BACKUP_STATUS_DIR}/status.json`,
  }),
};

/** The local stack's containers for a tier. Secrets appear as placeholders (config-templates/secrets.ts). */
export function localServices(settings: Settings, ports: LocalPorts = DEFAULT_LOCAL_PORTS): LocalService[] {
  const d = describeDeployment(settings, DOCKER_TARGET);
  const pgConf = renderedFile(d.files, 'postgresql/postgresql.conf');
  const hba = renderedFile(d.files, 'postgresql/pg_hba.conf');
  const ini = renderedFile(d.files, 'pgbouncer/pgbouncer.ini');
  const bouncerPort = DEFAULT_PORTS.pgbouncer;
  const workerPort = DEFAULT_PORTS.ingest;

  const dbPasswords = Object.fromEntries(
    dbSetupSecrets(settings).map((n) => [SECRET_ENV[n], placeholder(n)]),
  );
  // The worker's file holds no secret: its URLs and tokens come from the environment (compose cannot hash a
  // token, so the worker hashes POWERHOUSE_INGEST_TOKEN itself).
  const { databaseUrl, pgbouncerAdminUrl, tokens: _t, adminTokenSha256: _a, ...rest } = d.workerConfig;
  const workerFile = { ...rest, tokens: [] };
  const workerEnv = {
    POWERHOUSE_INGEST_CONFIG: INGEST_CONFIG_PATH,
    POWERHOUSE_DATABASE_URL: databaseUrl,
    ...(pgbouncerAdminUrl ? { POWERHOUSE_PGBOUNCER_ADMIN_URL: pgbouncerAdminUrl } : {}),
  };
  const workerConfigFile = {
    path: INGEST_CONFIG_PATH,
    content: JSON.stringify(workerFile, null, 2) + '\n',
    mode: '0644',
  };
  if (!d.backup) throw new Error('the Docker target backs up');
  const pgbackrestFiles: ServiceFile[] = [
    { path: `${PACKAGED.pgbackrestConfig}/pgbackrest.conf`, content: d.backup.conf, mode: '0644' },
    {
      // The cipher pass comes from the environment (a compose/Terraform secret), never from a file.
      path: `${PACKAGED.pgbackrestConfig}/conf.d/repository.conf`,
      content: renderRepositoryConf({ type: 'posix', path: BACKUP_REPO }, null),
      mode: '0644',
    },
  ];
  const backupProfile: ServiceFile = {
    path: DEFAULT_PROFILE_PATH,
    content: JSON.stringify(d.backup.profile, null, 2) + '\n',
    mode: '0644',
  };
  // The worker's URLs name BOUNCER_TLS.caFile; PgBouncer's container writes it, the others only read it.
  const tlsReadOnly = { volume: LOCAL_VOLUMES.tls, path: TLS_DIR, readOnly: true };

  return [
    {
      name: 'postgres',
      image: LOCAL_IMAGES.postgres,
      // The image's postgresql.conf is replaced by ours: PGDATA keeps the data, the rendered file the tuning.
      command: ['postgres', '-c', `config_file=${PG_ETC}/postgresql.conf`],
      env: {
        POSTGRES_PASSWORD: placeholder('superuser_password'),
        // archive_command's pgBackRest inherits it.
        [CIPHER_PASS_ENV]: placeholder('backup_cipher_pass'),
      },
      files: [
        {
          path: `${PG_ETC}/postgresql.conf`,
          content:
            '# db-powerhouse local stack: PostgreSQL reads this instead of PGDATA/postgresql.conf.\n' +
            `hba_file = '${PG_ETC}/pg_hba.conf'\ninclude '${PG_ETC}/90-powerhouse.conf'\n`,
          mode: '0644',
        },
        { path: `${PG_ETC}/90-powerhouse.conf`, content: pgConf.content, mode: '0644' },
        { path: `${PG_ETC}/pg_hba.conf`, content: hba.content, mode: '0644' },
        // archive_command runs here: pgBackRest with the same config as the backup container.
        ...pgbackrestFiles,
      ],
      volumes: [
        { volume: LOCAL_VOLUMES.data, path: PG_DATA },
        { volume: LOCAL_VOLUMES.backupRepo, path: BACKUP_REPO },
        { volume: LOCAL_VOLUMES.pgSocket, path: '/var/run/postgresql' },
      ],
      ports: [], // PostgreSQL is never published; clients go through PgBouncer.
      healthcheck: {
        test: sh('pg_isready -q -h 127.0.0.1 -p 5432 -U postgres -d postgres'),
        interval: '5s',
        timeout: '3s',
        retries: 12,
        startPeriod: '60s',
      },
      nofile: settings.os.postgresLimitNofile.value,
      // Parallel query and hash joins use POSIX shared memory in /dev/shm; Docker's default is 64 MiB.
      shmSizeMiB: 1024,
      dependsOn: [],
    },
    {
      // The role setup on every start, not only on an empty volume: a volume made by an earlier version is
      // moved to the owner model here, like a host on apply. Writes PgBouncer's userlist into the auth volume.
      name: 'roles',
      image: LOCAL_IMAGES.postgres,
      command: [DB_SETUP, `${AUTH_DIR}/userlist.txt`],
      env: {
        PGHOST: DOCKER_TARGET.postgres.host,
        PGPORT: String(DOCKER_TARGET.postgres.port),
        PGUSER: ROLES.superuser,
        PGDATABASE: 'postgres',
        PGPASSWORD: placeholder('superuser_password'),
        ...dbPasswords,
      },
      files: dbSetupFiles(settings, {
        script: DB_SETUP,
        rolesSql: `${SQL_DIR}/roles.sql`,
        userlistSql: `${SQL_DIR}/userlist.sql`,
      }),
      volumes: [{ volume: LOCAL_VOLUMES.auth, path: AUTH_DIR }],
      ports: [],
      oneShot: true,
      // The auth volume's directory belongs to postgres (Dockerfile), PgBouncer's user.
      user: 'postgres',
      dependsOn: ['postgres'],
    },
    {
      name: 'pgbouncer',
      image: LOCAL_IMAGES.pgbouncer,
      // The certificate before PgBouncer starts (the ini requires it; kept on later starts), for the names clients
      // use: 127.0.0.1 (the published port, the health check) and `pgbouncer` (the worker, on the network). The
      // userlist appears once PostgreSQL's first start has created the roles.
      command: [
        'sh',
        '-c',
        `set -e; ${TLS_SCRIPT} --name pgbouncer ${BOUNCER_TLS.dir} postgres 127.0.0.1 pgbouncer; ` +
          `install -m 0644 ${BOUNCER_TLS.certFile} ${BOUNCER_TLS.caFile}; ` +
          `until [ -s ${AUTH_DIR}/userlist.txt ]; do echo "waiting for ${AUTH_DIR}/userlist.txt"; sleep 1; done; ` +
          'exec pgbouncer /etc/pgbouncer/pgbouncer.ini',
      ],
      env: { [SECRET_ENV.bouncer_stats_password]: placeholder('bouncer_stats_password') },
      files: [
        {
          path: '/etc/pgbouncer/pgbouncer.ini',
          content: ini.content,
          mode: '0644',
        },
        { path: TLS_SCRIPT, content: tlsCertScript(), mode: '0755' },
      ],
      volumes: [
        { volume: LOCAL_VOLUMES.auth, path: AUTH_DIR },
        { volume: LOCAL_VOLUMES.tls, path: TLS_DIR },
      ],
      ports: [{ host: ports.pgbouncer, container: bouncerPort }],
      healthcheck: {
        test: sh(
          // Over TLS, verifying the certificate for 127.0.0.1 as a client of the published port would.
          `PGSSLMODE=verify-full PGSSLROOTCERT=${BOUNCER_TLS.caFile} PGPASSWORD="$${SECRET_ENV.bouncer_stats_password}" psql -X -q -h 127.0.0.1 -p ${bouncerPort} -U ${ROLES.bouncerStats} -d pgbouncer -c 'SHOW VERSION' >/dev/null`,
        ),
        interval: '5s',
        timeout: '3s',
        retries: 12,
        startPeriod: '60s',
      },
      nofile: settings.os.pgbouncerLimitNofile.value,
      dependsOn: ['postgres', 'roles'],
    },
    {
      // The migrate step: the owner role, straight to PostgreSQL, then exits. Only this container has its URL.
      name: 'migrate',
      image: LOCAL_IMAGES.ingest,
      command: ['node', '/app/ingest-worker.js', '--migrate', INGEST_CONFIG_PATH],
      env: { ...workerEnv, [OWNER_URL_ENV]: d.dsn.owner },
      files: [workerConfigFile],
      volumes: [tlsReadOnly],
      ports: [],
      oneShot: true,
      // The owner role exists once the role setup ran.
      dependsOn: ['roles'],
    },
    {
      name: 'ingest',
      image: LOCAL_IMAGES.ingest,
      env: {
        ...workerEnv,
        [SECRET_ENV.ingest_token]: placeholder('ingest_token'),
        // The same token id as on every other target (upload records, logs, metrics).
        POWERHOUSE_INGEST_TOKEN_ID: DEFAULT_TOKEN_ID,
        [SECRET_ENV.admin_token]: placeholder('admin_token'),
      },
      files: [workerConfigFile],
      volumes: [tlsReadOnly, { volume: LOCAL_VOLUMES.backupStatus, path: BACKUP_STATUS_DIR, readOnly: true }],
      ports: [{ host: ports.ingest, container: workerPort }],
      healthcheck: {
        test: [
          'CMD',
          'node',
          '-e',
          `fetch('http://127.0.0.1:${workerPort}/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`,
        ],
        interval: '5s',
        timeout: '3s',
        retries: 12,
        startPeriod: '30s',
      },
      dependsOn: ['pgbouncer', 'migrate'],
    },
    {
      // The host's timers as a loop: the status probe every statusIntervalSeconds, and a backup when one is due.
      name: 'backup',
      image: LOCAL_IMAGES.backup,
      command: [
        'sh',
        '-c',
        `set -e; umask 077; printf '*:*:*:${ROLES.superuser}:%s\\n' "$${SECRET_ENV.superuser_password}" > ${BACKUP_PGPASS}; ` +
          `${HOST_CLI} backup --if-due --quiet || true; ` +
          `while :; do ${HOST_CLI} backup-status --write || true; ${HOST_CLI} backup --if-due --quiet || true; ` +
          `sleep ${settings.backup.statusIntervalSeconds.value}; done`,
      ],
      env: {
        [SECRET_ENV.superuser_password]: placeholder('superuser_password'),
        [CIPHER_PASS_ENV]: placeholder('backup_cipher_pass'),
      },
      files: [...pgbackrestFiles, backupProfile],
      volumes: [
        { volume: LOCAL_VOLUMES.data, path: PG_DATA, readOnly: true },
        { volume: LOCAL_VOLUMES.backupRepo, path: BACKUP_REPO },
        { volume: LOCAL_VOLUMES.pgSocket, path: '/var/run/postgresql' },
        { volume: LOCAL_VOLUMES.backupStatus, path: BACKUP_STATUS_DIR },
      ],
      ports: [],
      healthcheck: {
        // Healthy while the probe keeps its status fresh (it runs every statusIntervalSeconds).
        test: sh(`test -n "$(find ${BACKUP_STATUS_DIR}/status.json -mmin -3 2>/dev/null)"`),
        interval: '30s',
        timeout: '5s',
        retries: 6,
        startPeriod: '120s',
      },
      user: 'postgres',
      dependsOn: ['postgres'],
    },
  ];
}

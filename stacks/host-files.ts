// Files of a db-powerhouse Hetzner host besides render()'s: the first-boot script, the worker installer that
// Terraform runs over SSH, the worker's systemd unit, the TLS proxy (Caddy) config and the TLS certificate
// script. Pure functions of the tier's Settings and rendered files; cloud-init.ts packs them into user-data.
import path from 'node:path';
import type { RenderedFile, RenderOptions, Settings } from '../config-templates';
import { DEFAULT_PORTS, DEFAULT_RENDER_OPTIONS, ROLES, SECRET_ENV } from '../config-templates';
import type { DeploymentTarget } from './deployment';
import { PACKAGED, packagedBackupTarget } from './backup/packaged';

/** Where things live on the host. */
export const HOST = {
  etc: '/etc/powerhouse',
  /** render() files as cloud-init wrote them; the bootstrap installs them once the packages exist. */
  staged: '/etc/powerhouse/rendered',
  hostEnv: '/etc/powerhouse/host.env',
  secretsEnv: '/etc/powerhouse/secrets.env',
  ingestConfig: '/etc/powerhouse/ingest.json',
  rolesSql: '/etc/powerhouse/sql/roles.sql',
  userlistSql: '/etc/powerhouse/sql/userlist.sql',
  caddyfileStaged: '/etc/powerhouse/Caddyfile',
  /** `not remote_ip <admin_cidrs>`, as powerhouse-apply writes it; the Caddyfile imports the installed copy. */
  caddyAdminNetworksStaged: '/etc/powerhouse/caddy-admin-networks',
  caddyAdminNetworks: '/etc/caddy/admin-networks',
  tlsDir: '/etc/powerhouse/tls',
  tlsCert: '/etc/powerhouse/tls/ingest.crt',
  tlsKey: '/etc/powerhouse/tls/ingest.key',
  /** Where Terraform uploads the ingest endpoint's certificate and key (tls_self_signed_cert) for powerhouse-apply. */
  tlsCertUpload: '/root/powerhouse-ingest.crt',
  tlsKeyUpload: '/root/powerhouse-ingest.key',
  /** PgBouncer's client TLS: its key and certificate, group postgres (the directory 0750, the key 0640). */
  pgbouncerTlsDir: '/etc/powerhouse/pgbouncer-tls',
  pgbouncerTlsKey: '/etc/powerhouse/pgbouncer-tls/pgbouncer.key',
  pgbouncerTlsCert: '/etc/powerhouse/pgbouncer-tls/pgbouncer.crt',
  /** A 0644 copy of PgBouncer's certificate: the worker (not in group postgres) verifies PgBouncer with it. */
  pgbouncerCa: '/etc/powerhouse/pgbouncer-ca.crt',
  bootstrap: '/usr/local/sbin/powerhouse-bootstrap',
  dbSetup: '/usr/local/sbin/powerhouse-db-setup',
  /** The migrate step (owner role), run by systemd before the worker starts and on reload. */
  migrate: '/usr/local/sbin/powerhouse-migrate',
  tlsScript: '/usr/local/sbin/powerhouse-tls-cert',
  installWorker: '/usr/local/sbin/powerhouse-install-worker',
  workerUnit: '/etc/systemd/system/powerhouse-ingest.service',
  workerJs: '/opt/powerhouse/ingest/worker.js',
  /** Where Terraform's file provisioner drops the bundle before powerhouse-install-worker moves it. */
  workerUpload: '/root/powerhouse-ingest-worker.js',
  state: '/var/lib/powerhouse',
  bootstrapDone: '/var/lib/powerhouse/bootstrap.done',
  bootstrapFailed: '/var/lib/powerhouse/bootstrap.failed',
  ready: '/var/lib/powerhouse/ready.json',
  log: '/var/log/powerhouse-bootstrap.log',
  /** pgBackRest: the tier's config, and the repository's (from the stack's backup_s3_* variables, 0640 postgres). */
  pgbackrestDir: PACKAGED.pgbackrestConfig,
  pgbackrestConf: `${PACKAGED.pgbackrestConfig}/pgbackrest.conf`,
  repositoryConf: `${PACKAGED.pgbackrestConfig}/conf.d/repository.conf`,
  /** Where Terraform drops the repository's file (it holds the keys) before powerhouse-apply installs it. */
  repositoryUpload: '/root/powerhouse-repository.conf',
  /** archive_mode = off while no repository is configured (read after the tier's 90-powerhouse.conf). */
  noBackupsConf: '/etc/postgresql/16/main/conf.d/95-no-backups.conf',
  backupProfile: '/etc/powerhouse/backup.json',
  /** Written by the status probe (user postgres), read by the worker. */
  backupStateDir: '/var/lib/powerhouse/backup',
  backupStatus: '/var/lib/powerhouse/backup/status.json',
  /** The superuser's password for pgBackRest's connection (postgres's ~/.pgpass). */
  postgresPgpass: '/var/lib/postgresql/.pgpass',
  backupSetup: '/usr/local/sbin/powerhouse-backup-setup',
  /** The host's `powerhouse` (cli/host-main.ts bundled) and its wrapper on PATH. */
  cliJs: '/opt/powerhouse/cli/powerhouse.js',
  cliUpload: '/root/powerhouse-host.js',
  cliBin: '/usr/local/bin/powerhouse',
} as const;

export const WORKER_USER = 'powerhouse';
export const WORKER_SERVICE = 'powerhouse-ingest';
/** How systemd starts the worker: Debian's Node.js, the bundle, the config file (ingest/main.ts argv[2]). */
export const INGEST_WORKER_EXEC = `/usr/bin/node ${HOST.workerJs} ${HOST.ingestConfig}`;
/**
 * The host's render() options: PostgreSQL on loopback only, PgBouncer on all interfaces (firewalled) and
 * requiring TLS of its clients, with the certificate the bootstrap makes before PgBouncer starts.
 */
export const HOST_RENDER_OPTIONS: Partial<RenderOptions> = {
  pgListen: 'localhost',
  bouncerListen: '*',
  allowedCidrs: [],
  bouncer: {
    ...DEFAULT_RENDER_OPTIONS.bouncer,
    clientTls: { keyFile: HOST.pgbouncerTlsKey, certFile: HOST.pgbouncerTlsCert },
  },
};

/** HTTPS port of the ingest endpoint (Caddy). */
export const INGEST_HTTPS_PORT = 443;
/** The worker listens on loopback only; Caddy is its only client. */
export const WORKER_LISTEN = { host: '127.0.0.1', port: DEFAULT_PORTS.ingest } as const;
/** Debian/Ubuntu packages the bootstrap installs (postgresql-16 and pgbouncer from apt.postgresql.org). */
export const HOST_PACKAGES = [
  'postgresql-16',
  'pgbouncer',
  // pgBackRest ≥ 2.46 from apt.postgresql.org (PostgreSQL 16; Debian's own stops at 15).
  'pgbackrest',
  'nodejs',
  'caddy',
  'curl',
  'openssl',
  'ca-certificates',
] as const;
export const MIN_NODE_MAJOR = 20;

/**
 * A Hetzner host as a deployment target: everything on one server, the worker behind Caddy. The worker reaches
 * PgBouncer on loopback over TLS and verifies its certificate (127.0.0.1 is one of its addresses).
 */
export function hetznerTarget(
  pgPort: number = DEFAULT_PORTS.postgres,
  bouncerPort: number = DEFAULT_PORTS.pgbouncer,
): DeploymentTarget {
  return {
    kind: 'hetzner',
    postgres: { host: '127.0.0.1', port: pgPort },
    pgbouncer: { host: '127.0.0.1', port: bouncerPort, caFile: HOST.pgbouncerCa },
    workerListen: WORKER_LISTEN,
    renderOptions: { ...HOST_RENDER_OPTIONS, pgPort, bouncerPort },
    backup: packagedBackupTarget({
      dataDir: HOST_PG.dataDir,
      pgPort,
      configDir: HOST_PG.configDir,
      startCommand: 'systemctl start postgresql@16-main',
      stopCommand: 'systemctl stop postgresql@16-main',
      passFile: HOST.postgresPgpass,
      repository: `the repository in ${HOST.repositoryConf}`,
      statusFile: HOST.backupStatus,
    }),
  };
}

/** Debian's PostgreSQL 16 cluster "main". */
export const HOST_PG = {
  dataDir: '/var/lib/postgresql/16/main',
  configDir: '/etc/postgresql/16/main',
} as const;

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Owner of an installed render() file: PostgreSQL's and PgBouncer's files belong to their service user. */
export function installOwner(installPath: string): string {
  return installPath.startsWith('/etc/postgresql/') || installPath.startsWith('/etc/pgbouncer/')
    ? 'postgres:postgres'
    : 'root:root';
}

function installLines(files: readonly RenderedFile[]): string {
  return files
    .map((f) => {
      const [owner, group] = installOwner(f.installPath).split(':');
      return `install -D -m ${f.mode} -o ${owner} -g ${group} ${q(`${HOST.staged}/${f.path}`)} ${q(f.installPath)}`;
    })
    .join('\n');
}

const isOs = (f: RenderedFile) =>
  f.installPath.startsWith('/etc/sysctl.d/') || f.installPath.startsWith('/etc/systemd/');

/**
 * `powerhouse-tls-cert [--name NAME] DIR GROUP HOST...`: a self-signed certificate DIR/NAME.crt and key
 * DIR/NAME.key (NAME defaults to `ingest`; CN powerhouse-NAME), valid for the given IP addresses and DNS names.
 * The key is readable by GROUP only: `caddy` for the ingest endpoint, `postgres` for PgBouncer's client TLS.
 * Self-signed because the endpoints are reached by IP and their ports are open only to the client networks, so
 * no public CA could validate them; clients pin PgBouncer's (pgbouncer_tls_fingerprint_command). The ingest
 * endpoint's is only a first-boot stand-in: powerhouse-apply replaces it by Terraform's (stacks/ingest-tls.ts).
 */
export function tlsCertScript(): string {
  return `#!/bin/bash
# powerhouse-tls-cert [--name NAME] DIR GROUP HOST...: self-signed ECDSA certificate DIR/NAME.crt (kept if present).
set -euo pipefail
name=ingest; if [ "\${1:-}" = --name ]; then name=\${2:?--name needs a value}; shift 2; fi
[[ $name =~ ^[a-z0-9-]+$ ]] || { echo "powerhouse-tls-cert: bad name '$name'" >&2; exit 1; }
dir=\${1:?usage: powerhouse-tls-cert [--name NAME] DIR GROUP HOST...}; group=\${2:?group}; shift 2
[ $# -gt 0 ] || { echo "powerhouse-tls-cert: no IP address or DNS name given" >&2; exit 1; }
crt=$dir/$name.crt; key=$dir/$name.key
if [ -s "$crt" ] && [ -s "$key" ]; then echo "powerhouse-tls-cert: keeping $crt"; exit 0; fi
san=; for h in "$@"; do if [[ $h =~ ^[0-9.]+$ || $h == *:* ]]; then san+=IP:$h,; else san+=DNS:$h,; fi; done
install -d -m 0750 -g "$group" "$dir"
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \\
  -subj "/CN=powerhouse-$name" -addext "subjectAltName=\${san%,}" \\
  -addext "keyUsage=digitalSignature" -addext "extendedKeyUsage=serverAuth" \\
  -keyout "$key" -out "$crt" 2>/dev/null
chgrp "$group" "$key" "$crt"
chmod 0640 "$key"; chmod 0644 "$crt"
openssl x509 -in "$crt" -noout -fingerprint -sha256
`;
}

/**
 * Caddy in front of the worker: TLS with the host's certificate, request bodies streamed to the worker (Caddy
 * does not buffer them and sets no body read timeout; the worker has its own idle timeout). The ops dashboard
 * and the admin routes answer only clients in the admin networks: `adminNetworks` is the file with the
 * matcher line (caddyAdminNetworks()); anyone else gets the contract's 403 from Caddy itself.
 */
export function caddyfile(opts: {
  port: number;
  cert: string;
  key: string;
  upstream: string;
  adminNetworks: string;
}): string {
  return `# db-powerhouse: TLS in front of the ingest worker (stacks/host-files.ts).
{
	auto_https disable_redirects
	# Clients connect by IP (no SNI): serve this certificate to them.
	default_sni powerhouse-ingest
}

:${opts.port} {
	tls ${opts.cert} ${opts.key}
	# The dashboard (/admin) and /v1/admin/*: from admin_cidrs only (the file says which, see powerhouse-apply).
	@admin_elsewhere {
		path /admin /admin/* /v1/admin/*
		import ${opts.adminNetworks}
	}
	header @admin_elsewhere Content-Type "application/json; charset=utf-8"
	respond @admin_elsewhere \`{"error":"forbidden","message":"the dashboard and the admin routes answer the admin networks (admin_cidrs) only"}\` 403
	reverse_proxy ${opts.upstream} {
		# Responses are small JSON; uploads stream in, nothing is buffered.
		flush_interval -1
	}
}
`;
}

/** The admin networks' matcher line for the Caddyfile: everyone outside `cidrs` (space-separated CIDRs). */
export function caddyAdminNetworks(cidrs: string): string {
  return `# db-powerhouse: who may reach /admin and /v1/admin/* through Caddy (admin_cidrs; stacks/host-files.ts).
not remote_ip ${cidrs}
`;
}

/** Until the first apply writes admin_cidrs: this host only. */
export const LOOPBACK_CIDRS = '127.0.0.1/32 ::1/128';

export function workerUnit(settings: Settings): string {
  // Uploads in flight get shutdownGraceMs after SIGTERM, plus time for their rollbacks, before systemd kills.
  const stopSeconds = Math.ceil(settings.ingest.shutdownGraceMs.value / 1000) + 20;
  return `# db-powerhouse ingest worker (stacks/host-files.ts)
[Unit]
Description=db-powerhouse ingest worker (HTTP uploads -> COPY through PgBouncer)
After=network-online.target pgbouncer.service
Wants=network-online.target pgbouncer.service
# Terraform copies the worker bundle after first boot; until then the unit is enabled but skipped.
ConditionPathExists=${HOST.workerJs}

[Service]
Type=simple
User=${WORKER_USER}
Group=${WORKER_USER}
ExecStart=${INGEST_WORKER_EXEC}
# The migrate step runs as root ('+'), which alone can read the owner's password: the worker never has it.
ExecStartPre=+${HOST.migrate}
# systemctl reload: grants for the tables now in the config, then SIGHUP re-reads its tokens and tables.
ExecReload=+${HOST.migrate}
ExecReload=/bin/kill -HUP $MAINPID
Environment=NODE_ENV=production
Restart=always
RestartSec=2
TimeoutStopSec=${stopSeconds}
# One descriptor per client connection and per pooled database connection, with room to spare.
LimitNOFILE=65536
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX

[Install]
WantedBy=multi-user.target
`;
}

export interface BootstrapOptions {
  readonly tier: string;
  readonly settings: Settings;
  /** render() output for this host, staged under HOST.staged. */
  readonly rendered: readonly RenderedFile[];
  /** The server's fixed address in the private network (also put in the certificate). */
  readonly privateIp: string;
  readonly pgPort: number;
  readonly bouncerPort: number;
}

/**
 * `powerhouse-bootstrap`: the first boot, run once by cloud-init (runcmd). Order matters: the data volume
 * before PostgreSQL's cluster exists, kernel and systemd limits before the services start, PgBouncer's
 * certificate before PgBouncer restarts with the rendered ini (which requires client TLS), roles while
 * Debian's default pg_hba (peer) still lets the postgres user in, then the rendered pg_hba. Re-runnable.
 */
export function bootstrapScript(o: BootstrapOptions): string {
  const pgFiles = o.rendered.filter((f) => !isOs(f));
  const osFiles = o.rendered.filter(isOs);
  const maxConnections = o.settings.postgres.max_connections?.value;
  if (maxConnections === undefined) throw new Error('Settings.postgres has no max_connections');
  return `#!/bin/bash
# powerhouse-bootstrap: first boot of a db-powerhouse host, tier ${o.tier} (stacks/host-files.ts).
set -euo pipefail
mkdir -p ${HOST.state}
exec > >(tee -a ${HOST.log}) 2>&1
trap 'echo "powerhouse-bootstrap: FAILED at line $LINENO; log: ${HOST.log}"; touch ${HOST.bootstrapFailed}' ERR
step() { echo "powerhouse-bootstrap: $(date -u +%FT%TZ) $*"; }
rm -f ${HOST.bootstrapFailed}
set -a; . ${HOST.hostEnv}; set +a
export DEBIAN_FRONTEND=noninteractive

apt-get update -q

step "data volume"
if [ "\${DATA_VOLUME_GB:-0}" -gt 0 ] && ! mountpoint -q /var/lib/postgresql; then
  command -v mkfs.xfs >/dev/null || apt-get install -y -q --no-install-recommends xfsprogs
  dev=""
  for _ in $(seq 1 60); do
    dev=$(ls /dev/disk/by-id/scsi-0HC_Volume_* 2>/dev/null | head -n 1 || true)
    [ -n "$dev" ] && break
    sleep 5
  done
  [ -n "$dev" ] || { echo "powerhouse-bootstrap: no Hetzner volume attached after 5 min"; exit 1; }
  blkid -o value -s TYPE "$dev" >/dev/null || mkfs.xfs -q "$dev"
  install -d /var/lib/postgresql
  echo "UUID=$(blkid -o value -s UUID "$dev") /var/lib/postgresql $(blkid -o value -s TYPE "$dev") defaults,noatime,nofail 0 2" >> /etc/fstab
  mount /var/lib/postgresql
fi

step "kernel settings and systemd limits"
${installLines(osFiles)}
sysctl --system >/dev/null
systemctl daemon-reload
want=$(sed -n 's/^vm.nr_hugepages *= *//p' /etc/sysctl.d/*powerhouse*.conf | tail -n 1)
have=$(awk '/^HugePages_Total/ {print $2}' /proc/meminfo)
[ "\${have:-0}" -ge "\${want:-0}" ] || echo "powerhouse-bootstrap: warning: $have of $want huge pages reserved; PostgreSQL falls back to normal pages"

step "packages"
apt-get install -y -q --no-install-recommends ${HOST_PACKAGES.join(' ')}
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= ${MIN_NODE_MAJOR} ? 0 : 1)' || {
  echo "powerhouse-bootstrap: Node.js $(node --version) is older than ${MIN_NODE_MAJOR}: use an image whose nodejs package is ${MIN_NODE_MAJOR}+ (debian-13)"; exit 1; }

step "PgBouncer TLS certificate"
# Before PgBouncer restarts with the rendered ini, which requires client TLS with this key and certificate.
public_ip=$(ip -4 -o route get 1.1.1.1 | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p')
[ -n "$public_ip" ] || { echo "powerhouse-bootstrap: no public IPv4 address found (ip route get 1.1.1.1)"; exit 1; }
${HOST.tlsScript} --name pgbouncer ${HOST.pgbouncerTlsDir} postgres "$public_ip" ${o.privateIp} 127.0.0.1
install -m 0644 ${HOST.pgbouncerTlsCert} ${HOST.pgbouncerCa}

step "roles, database and PgBouncer userlist"
install -d -o postgres -g postgres -m 0700 ${HOST.state}/db
set -a; . ${HOST.secretsEnv}; set +a
if [ ! -f ${HOST.state}/db/roles.done ]; then
  runuser -u postgres -- ${HOST.dbSetup} ${HOST.state}/db/userlist.txt
  touch ${HOST.state}/db/roles.done
fi
install -m 0640 -o postgres -g postgres ${HOST.state}/db/userlist.txt /etc/pgbouncer/userlist.txt
umask 077
printf '%s\\n' "localhost:*:*:postgres:$${SECRET_ENV.superuser_password}" "127.0.0.1:*:*:postgres:$${SECRET_ENV.superuser_password}" > /root/.pgpass
umask 022

step "PostgreSQL and PgBouncer configuration"
${installLines(pgFiles)}
# WAL archiving waits for the repository, which the first apply configures (powerhouse-apply).
[ -f ${HOST.repositoryConf} ] || printf '%s\\n' "# db-powerhouse: no backup repository yet: WAL is not archived." "archive_mode = off" > ${HOST.noBackupsConf}
systemctl restart postgresql@16-main
psql_su() { PGPASSWORD=$${SECRET_ENV.superuser_password} psql -X -h 127.0.0.1 -p ${o.pgPort} -U ${ROLES.superuser} -d postgres "$@"; }
if [ "$(psql_su -At -c 'SELECT count(*) FROM pg_file_settings WHERE error IS NOT NULL')" != 0 ]; then
  psql_su -c 'SELECT sourcefile, sourceline, name, error FROM pg_file_settings WHERE error IS NOT NULL'; exit 1
fi
[ "$(psql_su -At -c 'SHOW max_connections')" = ${maxConnections} ] || {
  echo "powerhouse-bootstrap: PostgreSQL did not take the rendered max_connections (${maxConnections})"; exit 1; }
systemctl enable pgbouncer
systemctl restart pgbouncer
# Over TLS, verifying PgBouncer's certificate for 127.0.0.1 with the worker's copy of it, as the worker will.
bouncer_up=0
for _ in $(seq 1 30); do
  if probe=$(PGSSLMODE=verify-full PGSSLROOTCERT=${HOST.pgbouncerCa} PGPASSWORD=$${SECRET_ENV.bouncer_stats_password} psql -X -At -h 127.0.0.1 -p ${o.bouncerPort} -U ${ROLES.bouncerStats} -d pgbouncer -c 'SHOW VERSION' 2>&1 >/dev/null); then
    bouncer_up=1; break
  fi
  sleep 1
done
[ $bouncer_up = 1 ] || { echo "powerhouse-bootstrap: PgBouncer does not answer on port ${o.bouncerPort} over TLS: $probe"; journalctl -u pgbouncer -n 30 --no-pager; exit 1; }

step "TLS certificate and Caddy"
# Stand-ins so that Caddy starts: the first apply (powerhouse-apply) replaces them by Terraform's certificate
# and the stack's admin_cidrs.
${HOST.tlsScript} ${HOST.tlsDir} caddy "$public_ip" ${o.privateIp} 127.0.0.1
install -m 0644 ${HOST.caddyAdminNetworksStaged} ${HOST.caddyAdminNetworks}
install -m 0644 ${HOST.caddyfileStaged} /etc/caddy/Caddyfile
systemctl enable caddy
systemctl restart caddy

step "ingest worker service"
id -u ${WORKER_USER} >/dev/null 2>&1 || useradd --system --home-dir ${HOST.state} --shell /usr/sbin/nologin ${WORKER_USER}
install -d -m 0755 ${path.posix.dirname(HOST.workerJs)}
chgrp ${WORKER_USER} ${HOST.ingestConfig}; chmod 0640 ${HOST.ingestConfig}
systemctl daemon-reload
systemctl enable ${WORKER_SERVICE}
if [ -f ${HOST.workerJs} ]; then systemctl restart ${WORKER_SERVICE}; fi

touch ${HOST.bootstrapDone}
step "done: PostgreSQL, PgBouncer and Caddy are up; the worker starts when Terraform installs it"
`;
}

/**
 * `powerhouse-migrate`: the migrate step (schema migrations and the allowlisted tables' grants) as the owner
 * role, whose URL only root can read in secrets.env. systemd runs it before every start of the worker and on
 * `systemctl reload`, so a table added to ingest.json gets its grants in that one step.
 */
export function migrateScript(): string {
  return `#!/bin/bash
# powerhouse-migrate (stacks/host-files.ts): schema migrations and grants as ${ROLES.owner}.
set -euo pipefail
[ -f ${HOST.workerJs} ] || { echo "powerhouse-migrate: ${HOST.workerJs} is not installed yet" >&2; exit 1; }
set -a; . ${HOST.secretsEnv}; set +a
exec /usr/bin/node ${HOST.workerJs} --migrate ${HOST.ingestConfig}
`;
}

/**
 * `powerhouse-install-worker FILE SHA256`: run by Terraform over SSH after copying the bundle. Waits for the
 * first boot, installs the bundle, restarts the worker and waits until /readyz answers through Caddy (the
 * database reachable through PgBouncer), so `apply` finishes only on a working endpoint.
 */
export function installWorkerScript(tier: string): string {
  return `#!/bin/bash
# powerhouse-install-worker FILE SHA256 [CLI_FILE CLI_SHA256] (stacks/host-files.ts)
set -euo pipefail
src=\${1:?usage: powerhouse-install-worker FILE SHA256}; want=\${2:?usage: powerhouse-install-worker FILE SHA256}
echo "powerhouse: waiting for cloud-init to finish the first boot"
cloud-init status --wait >/dev/null || true
if [ ! -f ${HOST.bootstrapDone} ]; then
  echo "powerhouse: the first-boot setup did not finish; last lines of ${HOST.log}:" >&2
  tail -n 40 ${HOST.log} >&2 || true
  exit 1
fi
got=$(sha256sum "$src" | cut -d ' ' -f 1)
[ "$got" = "$want" ] || { echo "powerhouse: worker bundle checksum $got, expected $want" >&2; exit 1; }
install -D -m 0644 -o root -g root "$src" ${HOST.workerJs}
rm -f "$src"
# The host's \`powerhouse\` (backup commands), shipped beside the worker.
if [ -n "\${3:-}" ]; then
  got=$(sha256sum "$3" | cut -d ' ' -f 1)
  [ "$got" = "\${4:?usage: powerhouse-install-worker FILE SHA256 CLI_FILE CLI_SHA256}" ] || { echo "powerhouse: host CLI bundle checksum $got, expected $4" >&2; exit 1; }
  install -D -m 0644 -o root -g root "$3" ${HOST.cliJs}
  rm -f "$3"
fi
systemctl restart ${WORKER_SERVICE}
for _ in $(seq 1 90); do
  if out=$(curl -fsS --max-time 5 --cacert ${HOST.tlsCert} https://127.0.0.1:${INGEST_HTTPS_PORT}/readyz 2>/dev/null); then
    printf '{"tier":"%s","workerSha256":"%s","readyAt":"%s"}\\n' ${tier} "$want" "$(date -u +%FT%TZ)" > ${HOST.ready}
    echo "powerhouse: ingest endpoint ready: $out"
    exit 0
  fi
  sleep 2
done
echo "powerhouse: the ingest worker did not become ready in 180 s" >&2
journalctl -u ${WORKER_SERVICE} -n 60 --no-pager >&2 || true
exit 1
`;
}

// `powerhouse-apply`: what `cdktf deploy` runs on the server on every apply, before installing the worker. A
// running server never reads its user-data again (the stack ignores changes to it), so this is how an existing
// host gets this version's deployment description: the same files user-data writes at first boot
// (deploymentHostFiles), then the idempotent role setup, which also moves a database of an earlier version to
// the owner model, then PgBouncer with what it needs (its TLS certificate, the userlist, the ini). It also
// installs the ingest endpoint's key and certificate that Terraform made and uploaded (stacks/ingest-tls.ts).
import { gzipSync } from 'node:zlib';
import { ROLES, SECRET_ENV } from '../config-templates';
import { deploymentHostFiles, hostCaddyfile, type UserDataOptions } from './cloud-init';
import { backupHostFiles } from './host-backup';
import { caddyAdminNetworks, HOST } from './host-files';

/** Stands for the stack's admin_cidrs (space-separated) until the stack puts Terraform's expression there. */
export const ADMIN_CIDRS_MARKER = '@@input:admin_cidrs@@';

/** Where Terraform's file provisioner leaves the script. */
export const APPLY_UPLOAD = '/root/powerhouse-apply';

const EOF = 'POWERHOUSE_APPLY_EOF';

export function hostApplyScript(o: Pick<UserDataOptions, 'tier' | 'deployment' | 'privateIp'>): string {
  const d = o.deployment;
  const pgPort = d.target.postgres.port;
  const files = [
    ...deploymentHostFiles(o),
    ...backupHostFiles(d),
    // Caddy: this version's Caddyfile, and who may reach the admin routes (plain: Terraform fills admin_cidrs in).
    { path: HOST.caddyfileStaged, mode: '0644', content: hostCaddyfile() },
    {
      path: HOST.caddyAdminNetworksStaged,
      mode: '0644',
      content: caddyAdminNetworks(ADMIN_CIDRS_MARKER),
      secret: true,
    },
  ];
  const bp = d.target.backup?.paths;
  const backupDirs = bp ? `${bp.spoolPath} ${bp.logPath}` : '';
  const puts = files.map((f) => {
    if (f.secret) {
      if (f.content.includes(EOF)) throw new Error(`${f.path} contains the heredoc delimiter`);
      // Plain text: Terraform fills the secret placeholders in; the quoted delimiter stops bash expansion.
      return `put_text ${f.path} ${f.mode} <<'${EOF}'\n${f.content}${EOF}`;
    }
    const b64 = gzipSync(Buffer.from(f.content, 'utf8'), { level: 9 }).toString('base64');
    return `put_packed ${f.path} ${f.mode} <<'${EOF}'\n${b64.replace(/.{1,76}/g, '$&\n')}${EOF}`;
  });
  return `#!/bin/bash
# powerhouse-apply, tier ${o.tier} (stacks/host-apply.ts): run by Terraform on every apply. DESTDIR=DIR writes the
# files under DIR and stops there (what the tests check).
set -euo pipefail
root=\${DESTDIR:-}
put() { # PATH MODE: stdin to PATH, atomically
  local dest="$root$1" tmp
  install -d "$(dirname "$dest")"
  tmp=$(mktemp "$dest.XXXXXX")
  cat > "$tmp"; chmod "$2" "$tmp"; mv "$tmp" "$dest"
}
put_text() { put "$1" "$2"; }
put_packed() { base64 -d | gunzip | put "$1" "$2"; }

if [ -z "$root" ]; then
  echo "powerhouse-apply: waiting for cloud-init to finish the first boot"
  cloud-init status --wait >/dev/null || true
  [ -f ${HOST.bootstrapDone} ] || { echo "powerhouse-apply: the first boot did not finish; see ${HOST.log}" >&2; exit 1; }
fi

${puts.join('\n')}

# The ingest endpoint's key and certificate: Terraform's (tls_self_signed_cert, the certificate clients pin from
# the stack's connect_info), uploaded beside this script. Installed as the first boot's stand-in was (the key
# 0640 root:caddy in a 0750 directory); Caddy restarts below only when they changed. Never printed.
tls_group=caddy; [ -z "$root" ] || tls_group=$(id -gn)
tls_crt=$root${HOST.tlsCertUpload}; tls_key=$root${HOST.tlsKeyUpload}
if [ ! -s "$tls_crt" ] || [ ! -s "$tls_key" ]; then
  rm -f "$tls_key"; echo "powerhouse-apply: Terraform did not upload ${HOST.tlsCertUpload} and ${HOST.tlsKeyUpload}" >&2; exit 1
fi
if [ "$(openssl x509 -in "$tls_crt" -noout -pubkey)" != "$(openssl pkey -in "$tls_key" -pubout)" ]; then
  rm -f "$tls_crt" "$tls_key"; echo "powerhouse-apply: the uploaded ingest key does not belong to its certificate" >&2; exit 1
fi
ingest_tls_changed=0
if ! cmp -s "$tls_crt" "$root${HOST.tlsCert}" || ! cmp -s "$tls_key" "$root${HOST.tlsKey}"; then
  install -d -m 0750 -g "$tls_group" "$root${HOST.tlsDir}"
  install -m 0640 -g "$tls_group" "$tls_key" "$root${HOST.tlsKey}"
  install -m 0644 -g "$tls_group" "$tls_crt" "$root${HOST.tlsCert}"
  ingest_tls_changed=1
fi
rm -f "$tls_crt" "$tls_key"
[ -z "$root" ] || exit 0

chgrp powerhouse ${HOST.ingestConfig}; chmod 0640 ${HOST.ingestConfig}
systemctl daemon-reload
# Caddy's config: the Caddyfile and the admin networks, installed (and Caddy reloaded) when either changed.
caddy_changed=0
for pair in ${HOST.caddyfileStaged}:/etc/caddy/Caddyfile ${HOST.caddyAdminNetworksStaged}:${HOST.caddyAdminNetworks}; do
  if ! cmp -s "\${pair%%:*}" "\${pair#*:}"; then install -m 0644 "\${pair%%:*}" "\${pair#*:}"; caddy_changed=1; fi
done
if [ "$ingest_tls_changed" = 1 ]; then
  echo "powerhouse-apply: installing Terraform's ingest certificate ($(openssl x509 -in ${HOST.tlsCert} -noout -fingerprint -sha256)): restarting Caddy"
  systemctl restart caddy
elif [ "$caddy_changed" = 1 ]; then
  echo "powerhouse-apply: Caddy's config changed (admin networks: $(sed -n 's/^not remote_ip //p' ${HOST.caddyAdminNetworks})): reloading Caddy"
  systemctl reload caddy
fi

# PgBouncer's TLS certificate: hosts made before client TLS have none (the script keeps an existing one).
public_ip=$(ip -4 -o route get 1.1.1.1 | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p')
[ -n "$public_ip" ] || { echo "powerhouse-apply: no public IPv4 address found (ip route get 1.1.1.1)" >&2; exit 1; }
${HOST.tlsScript} --name pgbouncer ${HOST.pgbouncerTlsDir} postgres "$public_ip" ${o.privateIp} 127.0.0.1
install -m 0644 ${HOST.pgbouncerTlsCert} ${HOST.pgbouncerCa}

# Roles: the role setup again, as the superuser over loopback (pg_hba is the rendered one by now). Idempotent;
# a database of an earlier version (the app role owning it) is moved to the owner model here.
set -a; . ${HOST.secretsEnv}; set +a
install -d -o postgres -g postgres -m 0700 ${HOST.state}/db
PGHOST=127.0.0.1 PGPORT=${pgPort} PGUSER=${ROLES.superuser} PGDATABASE=postgres PGPASSWORD="$${SECRET_ENV.superuser_password}" \\
  ${HOST.dbSetup} ${HOST.state}/db/userlist.txt
touch ${HOST.state}/db/roles.done
install -m 0640 -o postgres -g postgres ${HOST.state}/db/userlist.txt /etc/pgbouncer/userlist.txt

# Backups: the repository's file from the stack's variables (it holds the keys: root and group postgres only), the
# superuser's password for pgBackRest's connection, and WAL archiving on exactly when there is a repository.
install -d -o postgres -g postgres -m 0750 ${backupDirs} ${HOST.backupStateDir}
chmod 0755 ${HOST.backupStateDir}
install -d -m 0755 ${HOST.pgbackrestDir}/conf.d
if [ -f ${HOST.repositoryUpload} ] && grep -q '^repo1-s3-bucket=.' ${HOST.repositoryUpload}; then
  for k in repo1-s3-key repo1-s3-key-secret; do
    grep -q "^$k=." ${HOST.repositoryUpload} || { rm -f ${HOST.repositoryUpload}; echo "powerhouse-apply: backup_s3_bucket is set but $k is empty: set backup_s3_access_key and backup_s3_secret_key" >&2; exit 1; }
  done
  install -m 0640 -o root -g postgres ${HOST.repositoryUpload} ${HOST.repositoryConf}
  rm -f ${HOST.noBackupsConf}
  want_archive=on
else
  rm -f ${HOST.repositoryConf}
  printf '%s\n' "# db-powerhouse: no backup repository configured (stacks/host-apply.ts): WAL is not archived." "archive_mode = off" > ${HOST.noBackupsConf}
  want_archive=off
fi
rm -f ${HOST.repositoryUpload}
umask 077
printf '%s\n' "*:*:*:${ROLES.superuser}:$${SECRET_ENV.superuser_password}" > ${HOST.postgresPgpass}
umask 022
chown postgres:postgres ${HOST.postgresPgpass}
have_archive=$(PGPASSWORD="$${SECRET_ENV.superuser_password}" psql -X -At -h 127.0.0.1 -p ${pgPort} -U ${ROLES.superuser} -d postgres -c 'SHOW archive_mode')
if [ "$have_archive" != "$want_archive" ]; then
  echo "powerhouse-apply: archive_mode $have_archive -> $want_archive: restarting PostgreSQL (uploads in flight get 503 and are retried)"
  systemctl restart postgresql@16-main
else
  systemctl reload postgresql@16-main
fi

# PgBouncer: a changed ini (e.g. client TLS) needs a restart; otherwise a reload takes the new userlist.
if cmp -s ${HOST.staged}/pgbouncer/pgbouncer.ini /etc/pgbouncer/pgbouncer.ini; then
  systemctl reload pgbouncer
else
  install -m 0640 -o postgres -g postgres ${HOST.staged}/pgbouncer/pgbouncer.ini /etc/pgbouncer/pgbouncer.ini
  systemctl restart pgbouncer
fi
echo "powerhouse-apply: roles, secrets and worker files are this version's; installing the worker next"
`;
}

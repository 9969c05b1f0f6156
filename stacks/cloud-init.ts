// cloud-init user-data of a Hetzner host (#cloud-config). Written as JSON, which YAML parsers read as-is, so
// no value can be mis-quoted. render()'s files and our scripts travel gzip+base64 (small, byte-exact, and free of
// `${` so Terraform leaves them alone); the few values Terraform fills in (passwords, token hashes, the volume
// size) are references like ${random_password.app.result}, never literals: they reach the host only here.
// What the host holds comes from the deployment description (deployment.ts); this file only packs it.
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  fillPlaceholders,
  placeholder,
  SECRET_ENV,
  type SecretForm,
  type SecretName,
} from '../config-templates';
import { OWNER_URL_ENV } from '../ingest/config';
import { dbSetupFiles, dbSetupSecrets } from './database-setup';
import type { Deployment } from './deployment';
import {
  bootstrapScript,
  caddyAdminNetworks,
  caddyfile,
  HOST,
  INGEST_HTTPS_PORT,
  installWorkerScript,
  LOOPBACK_CIDRS,
  migrateScript,
  tlsCertScript,
  WORKER_LISTEN,
  workerUnit,
} from './host-files';

/** The host's Caddyfile: HTTPS on 443 in front of the worker, the admin routes for the admin networks. */
export function hostCaddyfile(): string {
  return caddyfile({
    port: INGEST_HTTPS_PORT,
    cert: HOST.tlsCert,
    key: HOST.tlsKey,
    upstream: `${WORKER_LISTEN.host}:${WORKER_LISTEN.port}`,
    adminNetworks: HOST.caddyAdminNetworks,
  });
}

/** Hetzner's limit for user_data. */
export const USER_DATA_LIMIT_BYTES = 32 * 1024;

/** apt.postgresql.org's signing key, from Debian's postgresql-common (pgdg/apt.postgresql.org.asc). */
export const PGDG_KEY_FILE = path.join(__dirname, 'keys', 'apt.postgresql.org.asc');
export const PGDG_KEY_FINGERPRINT = 'B97B0AFCAA1A47F044F244A07FCC7D46ACCC4CF8';
export const PGDG_SOURCE =
  'deb [signed-by=$KEY_FILE] https://apt.postgresql.org/pub/repos/apt $RELEASE-pgdg main';

export interface UserDataOptions {
  readonly tier: string;
  /** describeDeployment(settings, hetznerTarget(...)): secrets as placeholders. */
  readonly deployment: Deployment;
  readonly privateIp: string;
  /** A secret's Terraform reference (the value or its sha256), filled in for each placeholder. */
  readonly secretRef: (name: SecretName, form: SecretForm) => string;
  /** Size of the optional data volume in GB (a Terraform reference); '0' = none. */
  readonly dataVolumeGb: string;
  /** Armored apt key; default: PGDG_KEY_FILE. */
  readonly pgdgKey?: string;
}

interface WriteFile {
  path: string;
  permissions: string;
  owner: string;
  content: string;
  encoding?: 'gz+b64';
}

const packed = (p: string, content: string, permissions: string): WriteFile => ({
  path: p,
  permissions,
  owner: 'root:root',
  encoding: 'gz+b64',
  content: gzipSync(Buffer.from(content, 'utf8'), { level: 9 }).toString('base64'),
});
const plain = (p: string, content: string, permissions: string): WriteFile => ({
  path: p,
  permissions,
  owner: 'root:root',
  content,
});

/** Text that Terraform would read as a template (`${…}` or `%{…}`) anywhere outside our own references. */
export function assertNoTemplateSyntax(text: string, where: string): void {
  const m = /[$%]\{/.exec(text);
  if (m) {
    const at = text.slice(Math.max(0, m.index - 30), m.index + 30).replace(/\n/g, '\\n');
    throw new Error(`${where}: contains "${m[0]}" at …${at}…, which Terraform would interpolate`);
  }
}

/** The one non-secret Terraform value in user-data, swapped in after the template check like the secrets. */
const VOLUME_MARKER = '@@input:data_volume_gb@@';

/** A host file of the deployment: its path, mode and text (secrets as placeholders). */
export interface HostFile {
  readonly path: string;
  readonly mode: string;
  readonly content: string;
  /** Holds secret placeholders: travels as plain text, so Terraform can fill them in. */
  readonly secret?: boolean;
}

/**
 * The files that carry the deployment description to a host: the role setup, the migrate step, the worker's
 * unit and config, the secrets, the TLS script and PgBouncer's rendered ini. User-data writes them at first
 * boot; powerhouse-apply writes them again on every apply (user-data is never re-read by a running server).
 */
export function deploymentHostFiles(o: Pick<UserDataOptions, 'tier' | 'deployment'>): HostFile[] {
  const d = o.deployment;
  // Root-only: the bootstrap's role passwords and the migrate step's owner URL.
  const secretsEnv = [
    ...dbSetupSecrets(d.settings).map((n) => `${SECRET_ENV[n]}=${placeholder(n)}`),
    `${OWNER_URL_ENV}=${d.dsn.owner}`,
  ].join('\n');
  const ini = d.files.find((f) => f.path === 'pgbouncer/pgbouncer.ini');
  if (!ini) throw new Error('the deployment renders no pgbouncer.ini');
  return [
    ...dbSetupFiles(d.settings, {
      script: HOST.dbSetup,
      rolesSql: HOST.rolesSql,
      userlistSql: HOST.userlistSql,
    }),
    { path: HOST.migrate, mode: '0755', content: migrateScript() },
    { path: HOST.tlsScript, mode: '0755', content: tlsCertScript() },
    { path: HOST.installWorker, mode: '0755', content: installWorkerScript(o.tier) },
    { path: HOST.workerUnit, mode: '0644', content: workerUnit(d.settings) },
    { path: `${HOST.staged}/${ini.path}`, mode: ini.mode, content: ini.content },
    { path: HOST.secretsEnv, mode: '0600', content: secretsEnv + '\n', secret: true },
    {
      path: HOST.ingestConfig,
      mode: '0600',
      content: JSON.stringify(d.workerConfig, null, 2) + '\n',
      secret: true,
    },
  ];
}

export function userData(o: UserDataOptions): string {
  const d = o.deployment;
  const pgPort = d.target.postgres.port;
  const bouncerPort = d.target.pgbouncer?.port;
  if (bouncerPort === undefined) throw new Error('a Hetzner host always runs PgBouncer');
  const described = deploymentHostFiles(o);
  const files: WriteFile[] = [
    ...d.files
      .filter((f) => !described.some((h) => h.path === `${HOST.staged}/${f.path}`))
      .map((f) => packed(`${HOST.staged}/${f.path}`, f.content, f.mode)),
    ...described.map((f) => (f.secret ? plain : packed)(f.path, f.content, f.mode)),
    packed(
      HOST.bootstrap,
      bootstrapScript({
        tier: o.tier,
        settings: d.settings,
        rendered: d.files,
        privateIp: o.privateIp,
        pgPort,
        bouncerPort,
      }),
      '0755',
    ),
    packed(HOST.caddyfileStaged, hostCaddyfile(), '0644'),
    // This host only, until the first apply writes the stack's admin_cidrs (powerhouse-apply).
    packed(HOST.caddyAdminNetworksStaged, caddyAdminNetworks(LOOPBACK_CIDRS), '0644'),
    plain(HOST.hostEnv, `TIER=${o.tier}\nDATA_VOLUME_GB=${VOLUME_MARKER}\n`, '0644'),
  ];
  const config = {
    apt: {
      // Add one source; leave the image's own mirrors as they are.
      preserve_sources_list: true,
      sources: { pgdg: { source: PGDG_SOURCE, key: o.pgdgKey ?? fs.readFileSync(PGDG_KEY_FILE, 'utf8') } },
    },
    // Security updates before anything listens.
    package_update: true,
    package_upgrade: true,
    ssh_pwauth: false,
    write_files: files,
    runcmd: [[HOST.bootstrap]],
    final_message: `db-powerhouse ${o.tier}: first boot finished after $UPTIME s; log: ${HOST.log}`,
  };
  const doc = `#cloud-config\n${JSON.stringify(config, null, 1)}\n`;
  assertNoTemplateSyntax(doc, `user-data of tier ${o.tier}`);
  if (!doc.includes(VOLUME_MARKER)) throw new Error('user-data: the data volume size is not used');
  // References only where a placeholder stood; everything else is our checked literal text.
  return fillPlaceholders(doc.split(VOLUME_MARKER).join(o.dataVolumeGb), (s) => s, o.secretRef);
}

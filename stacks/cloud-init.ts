// cloud-init user-data of a Hetzner host (#cloud-config). Written as JSON, which YAML parsers read as-is, so
// no value can be mis-quoted. render()'s files and our scripts travel gzip+base64 (small, byte-exact, and free of
// `${` so Terraform leaves them alone); the few values Terraform fills in (passwords, token hashes, the volume
// size) are references like ${random_password.app.result}, never literals: they reach the host only here.
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { RenderedFile, Settings } from '../config-templates';
import { DB_PASSWORD_ENV, dbSetupScript, rolesSql, USERLIST_SQL } from './database-setup';
import {
  bootstrapScript,
  caddyfile,
  HOST,
  INGEST_HTTPS_PORT,
  installWorkerScript,
  tlsCertScript,
  WORKER_LISTEN,
  workerUnit,
} from './host-files';
import { ingestWorkerConfig, type IngestConfigSecrets } from './ingest-config';

/** Hetzner's limit for user_data. */
export const USER_DATA_LIMIT_BYTES = 32 * 1024;

/** apt.postgresql.org's signing key, from Debian's postgresql-common (pgdg/apt.postgresql.org.asc). */
export const PGDG_KEY_FILE = path.join(__dirname, 'keys', 'apt.postgresql.org.asc');
export const PGDG_KEY_FINGERPRINT = 'B97B0AFCAA1A47F044F244A07FCC7D46ACCC4CF8';
export const PGDG_SOURCE =
  'deb [signed-by=$KEY_FILE] https://apt.postgresql.org/pub/repos/apt $RELEASE-pgdg main';

/** Values Terraform supplies: cdktf tokens at synth time, literal strings in tests. */
export interface UserDataValues extends IngestConfigSecrets {
  readonly superuserPassword: string;
  readonly bouncerAdminPassword: string;
  /** Size of the optional data volume in GB; 0 = none. */
  readonly dataVolumeGb: string;
}

export interface UserDataOptions {
  readonly tier: string;
  readonly settings: Settings;
  /** render(settings, hostRenderOptions) */
  readonly rendered: readonly RenderedFile[];
  readonly privateIp: string;
  readonly pgPort: number;
  readonly bouncerPort: number;
  readonly values: UserDataValues;
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

/** Stand-ins for the Terraform-supplied values while the document is checked, swapped at the end. */
const marker = (name: keyof UserDataValues) => `@@POWERHOUSE_${name}@@`;

export function userData(o: UserDataOptions): string {
  const v = Object.fromEntries(
    (Object.keys(o.values) as (keyof UserDataValues)[]).map((k) => [k, marker(k)]),
  ) as unknown as UserDataValues;
  const secretsEnv = [
    `${DB_PASSWORD_ENV.superuser}=${v.superuserPassword}`,
    `${DB_PASSWORD_ENV.app}=${v.appPassword}`,
    `${DB_PASSWORD_ENV.ingest}=${v.ingestPassword}`,
    `${DB_PASSWORD_ENV.bouncerAdmin}=${v.bouncerAdminPassword}`,
    `${DB_PASSWORD_ENV.bouncerStats}=${v.bouncerStatsPassword}`,
  ].join('\n');
  const ingestConfig = ingestWorkerConfig(o.settings, v, {
    bouncerHost: '127.0.0.1',
    bouncerPort: o.bouncerPort,
    listenHost: WORKER_LISTEN.host,
    listenPort: WORKER_LISTEN.port,
  });
  const files: WriteFile[] = [
    ...o.rendered.map((f) => packed(`${HOST.staged}/${f.path}`, f.content, f.mode)),
    packed(
      HOST.bootstrap,
      bootstrapScript({
        tier: o.tier,
        settings: o.settings,
        rendered: o.rendered,
        privateIp: o.privateIp,
        pgPort: o.pgPort,
        bouncerPort: o.bouncerPort,
      }),
      '0755',
    ),
    packed(HOST.dbSetup, dbSetupScript({ rolesSql: HOST.rolesSql, userlistSql: HOST.userlistSql }), '0755'),
    packed(HOST.rolesSql, rolesSql(o.settings.roles), '0644'),
    packed(HOST.userlistSql, USERLIST_SQL, '0644'),
    packed(HOST.tlsScript, tlsCertScript(), '0755'),
    packed(HOST.installWorker, installWorkerScript(o.tier), '0755'),
    packed(HOST.workerUnit, workerUnit(o.settings), '0644'),
    packed(
      HOST.caddyfileStaged,
      caddyfile({
        port: INGEST_HTTPS_PORT,
        cert: HOST.tlsCert,
        key: HOST.tlsKey,
        upstream: `${WORKER_LISTEN.host}:${WORKER_LISTEN.port}`,
      }),
      '0644',
    ),
    plain(HOST.hostEnv, `TIER=${o.tier}\nDATA_VOLUME_GB=${v.dataVolumeGb}\n`, '0644'),
    plain(HOST.secretsEnv, secretsEnv + '\n', '0600'),
    plain(HOST.ingestConfig, JSON.stringify(ingestConfig, null, 2) + '\n', '0600'),
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
  let doc = `#cloud-config\n${JSON.stringify(config, null, 1)}\n`;
  assertNoTemplateSyntax(doc, `user-data of tier ${o.tier}`);
  for (const [k, value] of Object.entries(o.values)) {
    if (!doc.includes(marker(k as keyof UserDataValues))) throw new Error(`user-data: ${k} is not used`);
    doc = doc.split(marker(k as keyof UserDataValues)).join(value);
  }
  return doc;
}

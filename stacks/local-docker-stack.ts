// The local stack on a Docker engine: the containers of local-services.ts, built from this repository's
// Dockerfile, on their own network, data in a named volume, ports on 127.0.0.1 only, health-checked and
// restarted by Docker. Secrets are random_password resources passed as container environment.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Construct } from 'constructs';
import { LocalBackend, TerraformOutput, TerraformStack } from 'cdktf';
import { Container } from '@cdktf/provider-docker/lib/container';
import { Image } from '@cdktf/provider-docker/lib/image';
import { Network } from '@cdktf/provider-docker/lib/network';
import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { Volume } from '@cdktf/provider-docker/lib/volume';
import { RandomProvider } from '@cdktf/provider-random/lib/provider';
import { fillPlaceholders, tune, type Settings, type Tier } from '../config-templates';
import { clientTableNames, connectInfoLiteral } from './connect-info';
import { describeDeployment } from './deployment';
import { detectTier } from './local-tier';
import {
  BOUNCER_TLS,
  DEFAULT_LOCAL_PORTS,
  DOCKER_TARGET,
  LOCAL_IMAGES,
  LOCAL_VOLUMES,
  localServices,
  LOOPBACK,
  type LocalPorts,
  type LocalService,
} from './local-services';
import { StackSecrets } from './secrets';
import { escapeTerraform } from './terraform-escape';
import { REPO_ROOT } from './worker-bundle';

export interface LocalDockerStackProps {
  /** Default `detect`: this machine's cores and RAM (see local-tier.ts for the environment overrides). */
  readonly tier?: Tier;
  readonly ports?: Partial<LocalPorts>;
  /** Docker build context as Terraform sees it: relative to cdktf.out/stacks/<stack>, default the repo root. */
  readonly buildContext?: string;
  /** State file relative to cdktf.out/stacks/<stack>; default the project root's terraform.<stack>.tfstate. */
  readonly statePath?: string;
}

/** Content hash of the files an image is built from, so a source change rebuilds it on the next apply. */
export function sourceHash(paths: readonly string[], root = REPO_ROOT): string {
  const h = createHash('sha256');
  const walk = (p: string) => {
    const abs = path.join(root, p);
    if (!fs.existsSync(abs)) return;
    if (fs.statSync(abs).isDirectory()) {
      for (const e of fs.readdirSync(abs).sort()) walk(path.join(p, e));
    } else {
      h.update(p).update('\0').update(fs.readFileSync(abs)).update('\0');
    }
  };
  for (const p of paths) walk(p);
  return h.digest('hex');
}

/** The files the worker's image (and the migrate step, the same image) is built from. */
const WORKER_SOURCES = [
  'Dockerfile',
  'package.json',
  'package-lock.json',
  'ingest',
  'config-templates',
  'stacks/worker-bundle.ts',
];
const IMAGE_SOURCES: Record<LocalService['name'], string[]> = {
  postgres: ['Dockerfile'],
  roles: ['Dockerfile'],
  pgbouncer: ['Dockerfile'],
  migrate: WORKER_SOURCES,
  ingest: WORKER_SOURCES,
  // The host's `powerhouse` (backup commands) is bundled from the CLI and the backup modules.
  backup: [...WORKER_SOURCES, 'cli', 'stacks'],
};

export class LocalDockerStack extends TerraformStack {
  readonly settings: Settings;
  readonly services: LocalService[];
  readonly containers: Record<LocalService['name'], Container>;

  constructor(scope: Construct, id: string, props: LocalDockerStackProps = {}) {
    super(scope, id);
    const ports = { ...DEFAULT_LOCAL_PORTS, ...props.ports };
    for (const [k, v] of Object.entries(ports))
      if (!Number.isInteger(v) || v < 1 || v > 65535)
        throw new Error(`stack ${id}: port ${k} must be a whole number from 1 to 65535, got ${v}`);
    this.settings = tune(props.tier ?? detectTier());
    this.services = localServices(this.settings, ports);

    new LocalBackend(this, { path: props.statePath ?? `../../../terraform.${id}.tfstate` });
    new DockerProvider(this, 'docker', {});
    new RandomProvider(this, 'random');
    const secrets = new StackSecrets(this, 'secrets');
    const fill = (text: string) => fillPlaceholders(text, escapeTerraform, (n, form) => secrets.ref(n, form));

    const network = new Network(this, 'network', { name: 'powerhouse-local' });
    const volumes = Object.fromEntries(
      Object.entries(LOCAL_VOLUMES).map(([key, name]) => [name, new Volume(this, `volume_${key}`, { name })]),
    );
    const context = props.buildContext ?? '${path.module}/../../..';

    const containers = {} as Record<LocalService['name'], Container>;
    for (const svc of this.services) {
      const image = new Image(this, `image_${svc.name}`, {
        name: svc.image.tag,
        keepLocally: true,
        buildAttribute: { context, dockerfile: 'Dockerfile', target: svc.image.target, tag: [svc.image.tag] },
        triggers: { source: sourceHash(IMAGE_SOURCES[svc.name]) },
      });
      containers[svc.name] = new Container(this, svc.name, {
        name: `powerhouse-${svc.name}`,
        image: image.imageId,
        user: svc.user,
        command: svc.command?.map(escapeTerraform),
        env: Object.entries(svc.env).map(([k, v]) => fill(`${k}=${v}`)),
        upload: svc.files.map((f) => ({
          file: f.path,
          content: fill(f.content),
          executable: f.mode === '0755',
        })),
        volumes: svc.volumes.map((v) => ({
          volumeName: volumes[v.volume].name,
          containerPath: v.path,
          readOnly: v.readOnly,
        })),
        ports: svc.ports.map((p) => ({
          internal: p.container,
          external: p.host,
          ip: LOOPBACK,
          protocol: 'tcp',
        })),
        networksAdvanced: [{ name: network.name, aliases: [svc.name] }],
        healthcheck: svc.healthcheck && {
          test: svc.healthcheck.test.map(escapeTerraform),
          interval: svc.healthcheck.interval,
          timeout: svc.healthcheck.timeout,
          retries: svc.healthcheck.retries,
          startPeriod: svc.healthcheck.startPeriod,
        },
        ulimit: svc.nofile ? [{ name: 'nofile', soft: svc.nofile, hard: svc.nofile }] : undefined,
        shmSize: svc.shmSizeMiB,
        ...(svc.oneShot
          ? // The migrate step: apply waits for it to exit (non-zero fails the apply) and leaves it stopped.
            { restart: 'no', mustRun: false, attach: true, logs: true }
          : {
              restart: 'unless-stopped',
              // apply returns once the container is healthy, so the next one starts against a ready dependency.
              wait: true,
              waitTimeout: 180,
            }),
        dependsOn: svc.dependsOn.map((d) => containers[d]),
      });
    }
    this.containers = containers;

    const out = (oid: string, value: string, description: string, sensitive = false) =>
      new TerraformOutput(this, oid, { value, description, sensitive }).overrideLogicalId(oid);
    out(
      'ingest_url',
      `http://${LOOPBACK}:${ports.ingest}`,
      'Ingest endpoint (plain HTTP, this machine only).',
    );
    // The worker's port is published on 127.0.0.1 as plain HTTP (no proxy, no certificate): nothing to pin.
    out(
      'connect_info',
      connectInfoLiteral({
        endpoint: `http://${LOOPBACK}:${ports.ingest}`,
        tables: clientTableNames(describeDeployment(this.settings, DOCKER_TARGET)),
      }),
      'What a desktop app on this machine needs to reach the worker (JSON: endpoint, tables; no token): terraform output -raw connect_info > connect-info.json',
    );
    out(
      'pgbouncer_endpoint',
      `${LOOPBACK}:${ports.pgbouncer}`,
      `PgBouncer for app clients (user powerhouse_app). TLS is required: sslmode=verify-full with sslrootcert = a copy of its certificate (docker cp powerhouse-pgbouncer:${BOUNCER_TLS.caFile} .).`,
    );
    out(
      'tier',
      `${this.settings.tier.name} (${this.settings.tier.hardware.cores} cores, ${this.settings.tier.hardware.ramMiB} MiB)`,
      'Tier the configuration was tuned for.',
    );
    out('ingest_token', secrets.value('ingest_token'), 'Bearer token for uploads.', true);
    out(
      'admin_token',
      secrets.value('admin_token'),
      'Bearer token for /v1/admin/* (powerhouse token add|list|revoke, powerhouse uploads).',
      true,
    );
    out('app_password', secrets.value('app_password'), 'Password of powerhouse_app through PgBouncer.', true);
    out('superuser_password', secrets.value('superuser_password'), 'PostgreSQL superuser.', true);
  }
}

export { LOCAL_IMAGES };

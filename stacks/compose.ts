// docker-compose.yml for people without Terraform, from the same description as the cdktf local stack
// (local-services.ts): same images, files, environment, health checks, limits and 127.0.0.1 ports.
// `powerhouse render --tier T --compose --out DIR` writes what composeFiles() returns into DIR, and
// composeEnvFile() as DIR/.env only when DIR/.env does not exist yet (new passwords would not match a
// database that already has its roles).
import path from 'node:path';
import {
  fillPlaceholders,
  generateSecret,
  placeholdersIn,
  SECRET_ENV,
  SECRET_NAMES,
  type RenderedFile,
  type SecretName,
  type Settings,
} from '../config-templates';
import {
  DEFAULT_LOCAL_PORTS,
  LOCAL_VOLUMES,
  LOOPBACK,
  localServices,
  type LocalPorts,
  type LocalService,
} from './local-services';
import { REPO_ROOT } from './worker-bundle';

export interface ComposeOptions {
  readonly ports?: Partial<LocalPorts>;
  /** Docker build context (the repository with the Dockerfile), absolute or relative to the output dir. */
  readonly buildContext?: string;
}

/** Where a service's file is written under the output dir, and bind-mounted from. */
export const composeFilePath = (svc: LocalService['name'], file: string) =>
  path.posix.join('local', svc, file);

// Compose interpolates `$` everywhere: literal dollars are doubled, secrets become ${VAR:?...} references.
const composeEscape = (s: string) => s.replace(/\$/g, '$$$$');
const composeRef = (n: SecretName, form: string) => {
  if (form !== 'value') throw new Error(`compose cannot compute the ${form} of ${n}`);
  return `\${${SECRET_ENV[n]}:?missing in .env}`;
};
const fill = (s: string) => fillPlaceholders(s, composeEscape, composeRef);

export type Yaml = string | number | boolean | Yaml[] | { [k: string]: Yaml };

/** Block-style YAML: strings double-quoted (JSON escapes are YAML escapes), keys bare when safe. */
export function toYaml(value: Yaml, indent = ''): string {
  const key = (k: string) => (/^[A-Za-z0-9_.-]+$/.test(k) ? k : JSON.stringify(k));
  const scalar = (v: Yaml) => (typeof v === 'string' ? JSON.stringify(v) : String(v));
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return value
      .map((v) => {
        if (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0) {
          const body = toYaml(v, indent + '  ');
          return `${indent}- ${body.slice(indent.length + 2)}`;
        }
        return `${indent}- ${typeof v === 'object' ? toYaml(v) : scalar(v)}`;
      })
      .join('\n');
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) return '{}';
    return entries
      .map(([k, v]) => {
        const nested = typeof v === 'object' && (Array.isArray(v) ? v.length > 0 : Object.keys(v).length > 0);
        return nested
          ? `${indent}${key(k)}:\n${toYaml(v, indent + '  ')}`
          : `${indent}${key(k)}: ${typeof v === 'object' ? toYaml(v) : scalar(v)}`;
      })
      .join('\n');
  }
  return scalar(value);
}

function service(svc: LocalService, context: string, oneShots: ReadonlySet<string>): Yaml {
  const s: Record<string, Yaml> = {
    image: svc.image.tag,
    build: { context, dockerfile: 'Dockerfile', target: svc.image.target },
  };
  if (svc.command) s.command = svc.command.map(composeEscape);
  s.environment = Object.fromEntries(Object.entries(svc.env).map(([k, v]) => [k, fill(v)]));
  s.volumes = [
    ...svc.volumes.map((v) => `${v.volume}:${v.path}${v.readOnly ? ':ro' : ''}`),
    ...svc.files.map((f) => `./${composeFilePath(svc.name, f.path)}:${f.path}:ro`),
  ];
  if (svc.ports.length) s.ports = svc.ports.map((p) => `${LOOPBACK}:${p.host}:${p.container}`);
  if (svc.healthcheck)
    s.healthcheck = {
      test: svc.healthcheck.test.map(composeEscape),
      interval: svc.healthcheck.interval,
      timeout: svc.healthcheck.timeout,
      retries: svc.healthcheck.retries,
      start_period: svc.healthcheck.startPeriod,
    };
  if (svc.nofile) s.ulimits = { nofile: { soft: svc.nofile, hard: svc.nofile } };
  if (svc.shmSizeMiB) s.shm_size = `${svc.shmSizeMiB}m`;
  if (svc.user) s.user = svc.user;
  s.restart = svc.oneShot ? 'no' : 'unless-stopped';
  const condition = (d: LocalService['name']) =>
    oneShots.has(d) ? 'service_completed_successfully' : 'service_healthy';
  if (svc.dependsOn.length)
    s.depends_on = Object.fromEntries(svc.dependsOn.map((d) => [d, { condition: condition(d) }]));
  return s;
}

/** docker-compose.yml plus the files its services mount, as paths relative to the output dir. */
export function composeFiles(settings: Settings, opts: ComposeOptions = {}): RenderedFile[] {
  const services = localServices(settings, { ...DEFAULT_LOCAL_PORTS, ...opts.ports });
  const context = opts.buildContext ?? REPO_ROOT;
  const oneShots = new Set(services.filter((svc) => svc.oneShot).map((svc) => svc.name));
  const t = settings.tier;
  const doc: Yaml = {
    services: Object.fromEntries(services.map((svc) => [svc.name, service(svc, context, oneShots)])),
    volumes: Object.fromEntries(Object.values(LOCAL_VOLUMES).map((v) => [v, {}])),
  };
  const header =
    `# db-powerhouse local stack, tier ${t.name} (${t.hardware.cores} cores, ${t.hardware.ramMiB} MiB RAM, ${t.users} users).\n` +
    '# Generated by `powerhouse render --compose` from the same description as `cdktf deploy local`.\n' +
    '# Secrets come from .env next to this file. Ports listen on 127.0.0.1 only. Start: docker compose up -d --wait\n';
  const files: RenderedFile[] = services.flatMap((svc) =>
    svc.files.map((f) => ({
      path: composeFilePath(svc.name, f.path),
      installPath: f.path,
      content: f.content,
      mode: f.mode,
    })),
  );
  for (const f of files)
    if (placeholdersIn(f.content).length)
      throw new Error(`compose: ${f.path} would hold a secret; secrets go in .env`);
  return [
    {
      path: 'docker-compose.yml',
      installPath: 'docker-compose.yml',
      content: header + toYaml(doc) + '\n',
      mode: '0644',
    },
    ...files,
  ];
}

/** A fresh .env with random secrets (letters and digits, like the Terraform stacks' random_password). */
export function composeEnvFile(): RenderedFile {
  const lines = SECRET_NAMES.map((n) => `${SECRET_ENV[n]}=${generateSecret()}`);
  return {
    path: '.env',
    installPath: '.env',
    content:
      '# db-powerhouse secrets for docker-compose.yml. Keep this file private (mode 0600).\n' +
      lines.join('\n') +
      '\n',
    mode: '0600',
  };
}

// docker-compose.yml for users without Terraform: parsed by a real YAML parser (PyYAML, as installed with
// cloud-init), and checked to be the same deployment as the cdktf local stack once both have their secrets
// filled in: same images, files, environment, ports on 127.0.0.1, health checks, limits and order.
import { spawnSync } from 'node:child_process';
import { Testing } from 'cdktf';
import { presetTier, tune } from '../../config-templates';
import { composeEnvFile, composeFilePath, composeFiles, toYaml, type Yaml } from '../../stacks/compose';
import { tlsCertScript } from '../../stacks/host-files';
import { LocalDockerStack } from '../../stacks/local-docker-stack';
import { SECRET_ENV, SECRET_NAMES, type SecretName } from '../../config-templates';
import { secretLikeRuns, synth, testSecrets, type TfJson } from './synth-helpers';

const hasPyYaml = spawnSync('python3', ['-c', 'import yaml'], { encoding: 'utf8' }).status === 0;
if (!hasPyYaml)
  console.warn(
    'python3 with PyYAML is absent: the compose YAML parsing checks are SKIPPED (apt-get install python3-yaml)',
  );
const withYaml = hasPyYaml ? it : it.skip;

const parsed = new Map<string, TfJson>();
function parseYaml(text: string): TfJson {
  const hit = parsed.get(text);
  if (hit) return hit;
  const r = spawnSync(
    'python3',
    ['-c', 'import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'],
    {
      input: text,
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`YAML does not parse: ${r.stderr}`);
  const doc = JSON.parse(r.stdout) as TfJson;
  parsed.set(text, doc);
  return doc;
}

const settings = tune(presetTier('recommended'));
const files = composeFiles(settings, { buildContext: '..' });
const composeYaml = files.find((f) => f.path === 'docker-compose.yml')!.content;
const secrets = testSecrets();

/** Compose's interpolation, as `docker compose` applies it with the .env values. */
function interpolate(s: string): string {
  const byEnv = Object.fromEntries(SECRET_NAMES.map((n) => [SECRET_ENV[n], secrets[n]]));
  return s.replace(/\$\$|\$\{(\w+):\?[^}]*\}/g, (m, v?: string) => (m === '$$' ? '$' : byEnv[v!]));
}
/** Terraform's interpolation of the local stack's references and escapes. */
function terraform(s: string): string {
  return s
    .replace(/\$\{random_password\.(\w+)\.result\}/g, (_m, n: string) => secrets[n as SecretName])
    .replace(/\$\$\{/g, '${');
}

describe('docker-compose.yml', () => {
  withYaml(
    'is YAML that parses to the services (the role setup and the migrate step one-shot, the backup loop) and the volumes',
    () => {
      const doc = parseYaml(composeYaml);
      expect(Object.keys(doc.services)).toEqual([
        'postgres',
        'roles',
        'pgbouncer',
        'migrate',
        'ingest',
        'backup',
      ]);
      expect(Object.keys(doc.volumes).sort()).toEqual([
        'powerhouse-auth',
        'powerhouse-backup-repo',
        'powerhouse-backup-status',
        'powerhouse-pg-socket',
        'powerhouse-pgdata',
        'powerhouse-tls',
      ]);
      expect(doc.services.ingest.build).toEqual({
        context: '..',
        dockerfile: 'Dockerfile',
        target: 'ingest',
      });
      expect(doc.services.migrate.build).toEqual({
        context: '..',
        dockerfile: 'Dockerfile',
        target: 'ingest',
      });
      expect(doc.services.migrate.restart).toBe('no');
      expect(doc.services.ingest.depends_on).toEqual({
        pgbouncer: { condition: 'service_healthy' },
        migrate: { condition: 'service_completed_successfully' },
      });
    },
  );

  withYaml("requires TLS of PgBouncer's clients, with the certificate made before PgBouncer starts", () => {
    const doc = parseYaml(composeYaml);
    const ini = files.find((f) => f.path === composeFilePath('pgbouncer', '/etc/pgbouncer/pgbouncer.ini'))!;
    expect(ini.content).toMatch(/^client_tls_sslmode = require$/m);
    expect(ini.content).toMatch(
      /^client_tls_key_file = \/var\/lib\/powerhouse-tls\/pgbouncer\/pgbouncer\.key$/m,
    );
    expect(ini.content).toMatch(
      /^client_tls_cert_file = \/var\/lib\/powerhouse-tls\/pgbouncer\/pgbouncer\.crt$/m,
    );
    const script = files.find(
      (f) => f.path === composeFilePath('pgbouncer', '/usr/local/bin/powerhouse-tls-cert'),
    )!;
    expect([script.content, script.mode]).toEqual([tlsCertScript(), '0755']);
    const cmd = (doc.services.pgbouncer.command as string[])[2];
    const cert = cmd.indexOf(
      '/usr/local/bin/powerhouse-tls-cert --name pgbouncer /var/lib/powerhouse-tls/pgbouncer',
    );
    expect(cert).toBeGreaterThan(-1);
    expect(cert).toBeLessThan(cmd.indexOf('exec pgbouncer /etc/pgbouncer/pgbouncer.ini'));
    // PgBouncer writes the volume; the worker and the migrate step mount it read-only.
    expect(doc.services.pgbouncer.volumes).toContain('powerhouse-tls:/var/lib/powerhouse-tls');
    for (const name of ['migrate', 'ingest'])
      expect([name, doc.services[name].volumes]).toEqual([
        name,
        expect.arrayContaining(['powerhouse-tls:/var/lib/powerhouse-tls:ro']),
      ]);
    // The worker verifies PgBouncer by its service name with the 0644 copy of the certificate.
    expect(doc.services.ingest.environment.POWERHOUSE_DATABASE_URL).toBe(
      'postgresql://powerhouse_ingest:${POWERHOUSE_INGEST_PASSWORD:?missing in .env}@pgbouncer:6432/powerhouse_ingest' +
        '?sslmode=verify-full&sslrootcert=/var/lib/powerhouse-tls/pgbouncer-ca.crt',
    );
  });

  withYaml('is the same deployment as the cdktf local stack, secrets filled in', () => {
    const doc = parseYaml(composeYaml);
    const json = synth(new LocalDockerStack(Testing.app(), 'local', { tier: presetTier('recommended') }));
    for (const [name, c] of Object.entries(json.resource.docker_container as Record<string, TfJson>)) {
      const s = doc.services[name];
      expect(s.image).toBe(json.resource.docker_image[`image_${name}`].name);
      expect(s.build.target).toBe(json.resource.docker_image[`image_${name}`].build.target);
      expect((s.command ?? []).map(interpolate)).toEqual((c.command ?? []).map(terraform));
      const env = Object.entries(s.environment as Record<string, string>).map(
        ([k, v]) => `${k}=${interpolate(v)}`,
      );
      expect(env).toEqual((c.env as string[]).map(terraform));
      expect(s.ports ?? []).toEqual((c.ports as TfJson[]).map((p) => `${p.ip}:${p.external}:${p.internal}`));
      // The migrate step is one-shot: no health check in either.
      expect([name, s.healthcheck === undefined]).toEqual([name, c.healthcheck === undefined]);
      if (c.healthcheck) {
        expect(s.healthcheck.test.map(interpolate)).toEqual(c.healthcheck.test.map(terraform));
        expect([s.healthcheck.interval, s.healthcheck.retries, s.healthcheck.start_period]).toEqual([
          c.healthcheck.interval,
          c.healthcheck.retries,
          c.healthcheck.start_period,
        ]);
      }
      expect(s.restart).toBe(c.restart);
      expect(s.ulimits?.nofile ?? null).toEqual(
        c.ulimit ? { soft: c.ulimit[0].soft, hard: c.ulimit[0].hard } : null,
      );
      expect(Object.keys(s.depends_on ?? {})).toEqual(
        (c.depends_on as string[]).map((d) => d.replace('docker_container.', '')),
      );
      // The same named volumes at the same paths, read-only where the cdktf stack mounts them read-only.
      const volumeNames = Object.fromEntries(
        Object.entries(json.resource.docker_volume as Record<string, TfJson>).map(([k, v]) => [
          `\${docker_volume.${k}.name}`,
          v.name as string,
        ]),
      );
      expect([name, s.volumes.filter((v: string) => !v.startsWith('./'))]).toEqual([
        name,
        (c.volumes as TfJson[]).map(
          (v) => `${volumeNames[v.volume_name]}:${v.container_path}${v.read_only ? ':ro' : ''}`,
        ),
      ]);
      // Every uploaded file is written next to the compose file and mounted read-only at the same path.
      for (const u of c.upload as TfJson[]) {
        const rel = composeFilePath(name as 'postgres', u.file);
        expect(s.volumes).toContain(`./${rel}:${u.file}:ro`);
        const written = files.find((f) => f.path === rel);
        expect(written?.content).toBe(terraform(u.content));
        expect(written?.mode === '0755').toBe(u.executable === true);
      }
    }
  });

  it('binds every published port to 127.0.0.1 and never publishes PostgreSQL', () => {
    const ports = [...composeYaml.matchAll(/^\s+- "([\d.]+):(\d+):(\d+)"$/gm)];
    expect(ports.map((m) => m[1])).toEqual(['127.0.0.1', '127.0.0.1']);
    expect(ports.map((m) => m[3]).sort()).toEqual(['6432', '8080']);
    expect(composeYaml).not.toMatch(/:5432"/);
  });

  it('holds no secrets: every one is a ${VAR} from .env, and .env is generated fresh and private', () => {
    for (const f of files) expect([f.path, secretLikeRuns(f.content)]).toEqual([f.path, []]);
    for (const n of SECRET_NAMES) expect(composeYaml).toContain(`\${${SECRET_ENV[n]}:?missing in .env}`);
    const a = composeEnvFile();
    const b = composeEnvFile();
    expect(a.mode).toBe('0600');
    const vars = a.content
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split('='));
    expect(vars.map(([k]) => k).sort()).toEqual(Object.values(SECRET_ENV).sort());
    for (const [, v] of vars) expect(v).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(a.content).not.toBe(b.content);
  });
});

describe('toYaml', () => {
  withYaml('round-trips quoting-hostile strings through a YAML parser', () => {
    const value: Yaml = {
      'key with space': 'a: b # not a comment',
      list: ['- dash', "it's", '"quoted"', 'back\\slash', 'new\nline', 'yes', '0755', ''],
      nested: { empty: {}, none: [], n: 3, t: true },
      objects: [{ a: 1, b: 'x' }, { c: [] }],
    };
    expect(parseYaml(toYaml(value))).toEqual(value);
  });
});

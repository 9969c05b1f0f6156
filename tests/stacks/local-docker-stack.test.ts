// The local Docker stack, synthesized in-process: container specs (127.0.0.1 ports, PostgreSQL unpublished,
// health checks, restart, limits from the tier), render()'s files uploaded as rendered, secrets only by
// reference, and the `detect` default with its environment overrides.
import { describeDeployment } from '../../stacks/deployment';
import { Testing } from 'cdktf';
import {
  customTier,
  DATABASE,
  parseConnectInfo,
  presetTier,
  renderedFile,
  ROLES,
  tune,
  type Tier,
} from '../../config-templates';
import { dbSetupScript } from '../../stacks/database-setup';
import { tlsCertScript } from '../../stacks/host-files';
import { LocalDockerStack } from '../../stacks/local-docker-stack';
import { escapeTerraform } from '../../stacks/terraform-escape';
import { BOUNCER_TLS, DOCKER_TARGET, LOCAL_IMAGES } from '../../stacks/local-services';
import { detectTier, localTierFromEnv } from '../../stacks/local-tier';
import { SECRET_NAMES } from '../../config-templates';
import { allStrings, secretLikeRuns, synth, type TfJson } from './synth-helpers';

const synthLocal = (tier?: Tier, ports?: { pgbouncer?: number; ingest?: number }) =>
  synth(new LocalDockerStack(Testing.app(), 'local', { tier, ports }));

/** What Terraform makes of a literal string in the JSON: `$${` and `%%{` are escapes. */
const unescape = (s: string) => s.replace(/\$\$\{/g, '${').replace(/%%\{/g, '%{');

const minimum = tune(presetTier('minimum'));
const json = synthLocal(presetTier('minimum'));
const containers = json.resource.docker_container as Record<string, TfJson>;
const upload = (c: string, file: string): string => {
  const u = (containers[c].upload as TfJson[]).find((x) => x.file === file);
  if (!u) throw new Error(`${c} has no upload ${file}`);
  return unescape(u.content as string);
};

describe('local Docker stack', () => {
  it('runs PostgreSQL, the role setup, PgBouncer, the migrate step and the worker, built from this repository\u2019s Dockerfile', () => {
    expect(Object.keys(containers).sort()).toEqual([
      'backup',
      'ingest',
      'migrate',
      'pgbouncer',
      'postgres',
      'roles',
    ]);
    for (const [name, c] of Object.entries(containers)) {
      expect(c.image).toBe(`\${docker_image.image_${name}.image_id}`);
      const image = json.resource.docker_image[`image_${name}`];
      expect(image.build).toMatchObject({
        context: '${path.module}/../../..',
        dockerfile: 'Dockerfile',
        // The migrate step is the worker's image with --migrate; the role setup PostgreSQL's, with psql.
        target:
          name === 'migrate'
            ? LOCAL_IMAGES.ingest.target
            : name === 'roles'
              ? LOCAL_IMAGES.postgres.target
              : name,
      });
      expect(image.triggers.source).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('publishes only PgBouncer and the worker, on 127.0.0.1, and never PostgreSQL', () => {
    expect(containers.postgres.ports).toEqual([]);
    expect(containers.pgbouncer.ports).toEqual([
      { internal: 6432, external: 6432, ip: '127.0.0.1', protocol: 'tcp' },
    ]);
    expect(containers.ingest.ports).toEqual([
      { internal: 8080, external: 8080, ip: '127.0.0.1', protocol: 'tcp' },
    ]);
    const moved = synthLocal(presetTier('minimum'), { pgbouncer: 16432, ingest: 18080 }).resource
      .docker_container;
    expect(moved.pgbouncer.ports[0]).toMatchObject({ external: 16432, internal: 6432, ip: '127.0.0.1' });
    expect(moved.ingest.ports[0]).toMatchObject({ external: 18080, internal: 8080, ip: '127.0.0.1' });
    expect(() => synthLocal(undefined, { ingest: 70000 })).toThrow(
      /port ingest must be a whole number from 1 to 65535/,
    );
  });

  it('health-checks every container, restarts it unless stopped, and waits for health in order', () => {
    expect(containers.postgres.healthcheck.test).toEqual([
      'CMD-SHELL',
      'pg_isready -q -h 127.0.0.1 -p 5432 -U postgres -d postgres',
    ]);
    expect(containers.pgbouncer.healthcheck.test[1]).toContain(
      `-U ${ROLES.bouncerStats} -d pgbouncer -c 'SHOW VERSION'`,
    );
    expect(containers.ingest.healthcheck.test.join(' ')).toContain('http://127.0.0.1:8080/readyz');
    for (const [name, c] of Object.entries(containers)) {
      if (name === 'migrate' || name === 'roles') continue;
      // The backup loop is healthy while its status stays fresh (a 30 s probe): checked less often.
      expect(c.healthcheck).toMatchObject(
        name === 'backup'
          ? { interval: '30s', timeout: '5s', retries: 6 }
          : { interval: '5s', timeout: '3s', retries: 12 },
      );
      expect(c.restart).toBe('unless-stopped');
      expect(c.wait).toBe(true);
    }
    // The migrate step runs once to completion; apply fails if it does not exit 0.
    expect(containers.migrate).not.toHaveProperty('healthcheck');
    expect(containers.migrate).toMatchObject({ restart: 'no', must_run: false, attach: true });
    expect(containers.migrate.command).toEqual([
      'node',
      '/app/ingest-worker.js',
      '--migrate',
      '/etc/powerhouse/ingest.json',
    ]);
    // The role setup runs on every start (an existing volume of an earlier version is upgraded by it), as
    // PgBouncer's user, against the postgres container; PgBouncer and the migrate step wait for it.
    expect(containers.roles).not.toHaveProperty('healthcheck');
    expect(containers.roles).toMatchObject({
      restart: 'no',
      must_run: false,
      attach: true,
      user: 'postgres',
    });
    expect(containers.roles.command).toEqual([
      '/usr/local/bin/powerhouse-db-setup',
      '/var/lib/powerhouse-auth/userlist.txt',
    ]);
    expect(containers.roles.env).toEqual(
      expect.arrayContaining([
        'PGHOST=postgres',
        'PGUSER=postgres',
        'PGPASSWORD=${random_password.superuser_password.result}',
      ]),
    );
    expect(containers.roles.depends_on).toEqual(['docker_container.postgres']);
    expect(containers.pgbouncer.depends_on).toEqual(['docker_container.postgres', 'docker_container.roles']);
    expect(containers.migrate.depends_on).toEqual(['docker_container.roles']);
    expect(containers.ingest.depends_on).toEqual(['docker_container.pgbouncer', 'docker_container.migrate']);
  });

  it("keeps data in a named volume, shares the userlist through another and PgBouncer's certificate through a third", () => {
    expect(
      Object.values(json.resource.docker_volume)
        .map((v) => (v as TfJson).name)
        .sort(),
    ).toEqual([
      'powerhouse-auth',
      'powerhouse-backup-repo',
      'powerhouse-backup-status',
      'powerhouse-pg-socket',
      'powerhouse-pgdata',
      'powerhouse-tls',
    ]);
    // PostgreSQL's archive_command writes the repository; the backup container reads the data (read-only).
    expect(containers.postgres.volumes).toEqual([
      { volume_name: '${docker_volume.volume_data.name}', container_path: '/var/lib/postgresql/data' },
      { volume_name: '${docker_volume.volume_backupRepo.name}', container_path: '/var/lib/pgbackrest-repo' },
      { volume_name: '${docker_volume.volume_pgSocket.name}', container_path: '/var/run/postgresql' },
    ]);
    expect(containers.backup.volumes).toEqual([
      {
        volume_name: '${docker_volume.volume_data.name}',
        container_path: '/var/lib/postgresql/data',
        read_only: true,
      },
      { volume_name: '${docker_volume.volume_backupRepo.name}', container_path: '/var/lib/pgbackrest-repo' },
      { volume_name: '${docker_volume.volume_pgSocket.name}', container_path: '/var/run/postgresql' },
      {
        volume_name: '${docker_volume.volume_backupStatus.name}',
        container_path: '/var/lib/powerhouse-backup',
      },
    ]);
    expect(containers.roles.volumes).toEqual([
      { volume_name: '${docker_volume.volume_auth.name}', container_path: '/var/lib/powerhouse-auth' },
    ]);
    // PgBouncer writes its certificate; the worker and the migrate step read the copy, and cannot change it.
    expect(containers.pgbouncer.volumes).toEqual([
      { volume_name: '${docker_volume.volume_auth.name}', container_path: '/var/lib/powerhouse-auth' },
      { volume_name: '${docker_volume.volume_tls.name}', container_path: '/var/lib/powerhouse-tls' },
    ]);
    const tlsRead = {
      volume_name: '${docker_volume.volume_tls.name}',
      container_path: '/var/lib/powerhouse-tls',
      read_only: true,
    };
    expect(containers.migrate.volumes).toEqual([tlsRead]);
    // The worker also reads the backup probe's status (and cannot change it).
    expect(containers.ingest.volumes).toEqual([
      tlsRead,
      {
        volume_name: '${docker_volume.volume_backupStatus.name}',
        container_path: '/var/lib/powerhouse-backup',
        read_only: true,
      },
    ]);
  });

  it('requires TLS of PgBouncer\u2019s clients with a certificate its container makes before PgBouncer starts', () => {
    const ini = upload('pgbouncer', '/etc/pgbouncer/pgbouncer.ini');
    expect(ini).toMatch(/^client_tls_sslmode = require$/m);
    expect(ini).toContain('\nclient_tls_key_file = /var/lib/powerhouse-tls/pgbouncer/pgbouncer.key\n');
    expect(ini).toContain('\nclient_tls_cert_file = /var/lib/powerhouse-tls/pgbouncer/pgbouncer.crt\n');
    // The host's certificate script, shipped as an executable file and run by the container's command.
    const script = (containers.pgbouncer.upload as TfJson[]).find(
      (u) => u.file === '/usr/local/bin/powerhouse-tls-cert',
    )!;
    expect([unescape(script.content), script.executable]).toEqual([tlsCertScript(), true]);
    const [shell, flag, cmd] = containers.pgbouncer.command as string[];
    expect([shell, flag]).toEqual(['sh', '-c']);
    const at = (needle: string) => {
      const i = cmd.indexOf(needle);
      if (i < 0) throw new Error(`the pgbouncer command has no ${needle}`);
      return i;
    };
    const order = [
      at('set -e; '),
      at(
        '/usr/local/bin/powerhouse-tls-cert --name pgbouncer /var/lib/powerhouse-tls/pgbouncer postgres 127.0.0.1 pgbouncer; ',
      ),
      at(
        'install -m 0644 /var/lib/powerhouse-tls/pgbouncer/pgbouncer.crt /var/lib/powerhouse-tls/pgbouncer-ca.crt; ',
      ),
      at('until [ -s /var/lib/powerhouse-auth/userlist.txt ]'),
      at('exec pgbouncer /etc/pgbouncer/pgbouncer.ini'),
    ];
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(cmd.endsWith('exec pgbouncer /etc/pgbouncer/pgbouncer.ini')).toBe(true);
    // The health check connects as a client of the published port would: TLS, verified for 127.0.0.1.
    expect(containers.pgbouncer.healthcheck.test[1]).toMatch(
      /^PGSSLMODE=verify-full PGSSLROOTCERT=\/var\/lib\/powerhouse-tls\/pgbouncer-ca\.crt PGPASSWORD=/,
    );
    expect(BOUNCER_TLS.caFile).toBe('/var/lib/powerhouse-tls/pgbouncer-ca.crt');
  });

  it("uploads render()'s files for the tier as rendered (PgBouncer pointed at the postgres container)", () => {
    // The Docker target's description: render() with its WAL archive command.
    const files = describeDeployment(minimum, DOCKER_TARGET).files;
    expect(upload('postgres', '/etc/powerhouse/postgresql/90-powerhouse.conf')).toBe(
      renderedFile(files, 'postgresql/postgresql.conf').content,
    );
    expect(upload('postgres', '/etc/powerhouse/postgresql/pg_hba.conf')).toBe(
      renderedFile(files, 'postgresql/pg_hba.conf').content,
    );
    expect(upload('postgres', '/etc/powerhouse/postgresql/postgresql.conf')).toContain(
      "include '/etc/powerhouse/postgresql/90-powerhouse.conf'",
    );
    const ini = upload('pgbouncer', '/etc/pgbouncer/pgbouncer.ini');
    expect(ini).toBe(renderedFile(files, 'pgbouncer/pgbouncer.ini').content);
    expect(ini.match(/^\S+ = host=postgres port=\d+ /gm)).toHaveLength(2);
    // PostgreSQL admits the Docker network it is on (samenet) and loopback, with SCRAM.
    expect(upload('postgres', '/etc/powerhouse/postgresql/pg_hba.conf')).toMatch(
      /^host\tall\tall\tsamenet\tscram-sha-256$/m,
    );
  });

  it('ships the shell setup escaped for Terraform, so it arrives byte-identical', () => {
    const raw = (containers.roles.upload as TfJson[]).find(
      (u) => u.file === '/usr/local/bin/powerhouse-db-setup',
    )!;
    expect(raw.content).toContain('$${1:?usage');
    expect(unescape(raw.content)).toBe(
      dbSetupScript(minimum, {
        rolesSql: '/etc/powerhouse/sql/roles.sql',
        userlistSql: '/etc/powerhouse/sql/userlist.sql',
      }),
    );
    expect(raw.executable).toBe(true);
    expect(escapeTerraform('a ${b} %{c} $d')).toBe('a $${b} %%{c} $d');
  });

  it('takes file-descriptor limits from the tier', () => {
    expect(containers.postgres.ulimit).toEqual([
      {
        name: 'nofile',
        soft: minimum.os.postgresLimitNofile.value,
        hard: minimum.os.postgresLimitNofile.value,
      },
    ]);
    expect(containers.pgbouncer.ulimit).toEqual([
      {
        name: 'nofile',
        soft: minimum.os.pgbouncerLimitNofile.value,
        hard: minimum.os.pgbouncerLimitNofile.value,
      },
    ]);
  });

  it('passes secrets only as random_password references, and outputs them as sensitive', () => {
    expect(Object.keys(json.resource.random_password).sort()).toEqual([...SECRET_NAMES].sort());
    const env = (c: string) =>
      Object.fromEntries((containers[c].env as string[]).map((e) => e.split(/=(.*)/s).slice(0, 2)));
    expect(env('postgres').POSTGRES_PASSWORD).toBe('${random_password.superuser_password.result}');
    // The worker reaches PgBouncer by its service name (a DNS name in the certificate) and verifies it.
    const tls = '?sslmode=verify-full&sslrootcert=/var/lib/powerhouse-tls/pgbouncer-ca.crt';
    expect(env('ingest').POWERHOUSE_DATABASE_URL).toBe(
      `postgresql://powerhouse_ingest:\${random_password.ingest_password.result}@pgbouncer:6432/powerhouse_ingest${tls}`,
    );
    expect(env('ingest').POWERHOUSE_PGBOUNCER_ADMIN_URL).toBe(
      `postgresql://pgbouncer_stats:\${random_password.bouncer_stats_password.result}@pgbouncer:6432/pgbouncer${tls}`,
    );
    expect(env('ingest').POWERHOUSE_INGEST_TOKEN).toBe('${random_password.ingest_token.result}');
    expect(env('ingest')).not.toHaveProperty('POWERHOUSE_OWNER_DATABASE_URL');
    expect(env('ingest')).not.toHaveProperty('POWERHOUSE_MIGRATION_DATABASE_URL');
    const findings = allStrings(json).flatMap((s) => secretLikeRuns(s.value).map((r) => `${s.at}: ${r}`));
    expect(findings).toEqual([]);
    const config = JSON.parse(upload('ingest', '/etc/powerhouse/ingest.json'));
    expect(upload('migrate', '/etc/powerhouse/ingest.json')).toBe(
      upload('ingest', '/etc/powerhouse/ingest.json'),
    );
    expect(config).not.toHaveProperty('databaseUrl');
    expect(config.tokens).toEqual([]);
    for (const [name, o] of Object.entries(json.output as Record<string, TfJson>)) {
      if (JSON.stringify(o.value).includes('random_password'))
        expect([name, o.sensitive]).toEqual([name, true]);
    }
    expect(json.output.ingest_url.value).toBe('http://127.0.0.1:8080');
  });

  it("gives only the migrate step the owner's URL, straight to PostgreSQL without PgBouncer's TLS parameters", () => {
    const env = (c: string) =>
      Object.fromEntries((containers[c].env as string[]).map((e) => e.split(/=(.*)/s).slice(0, 2)));
    // PostgreSQL has no TLS in the Docker network; PgBouncer's certificate does not name it either.
    expect(env('migrate').POWERHOUSE_OWNER_DATABASE_URL).toBe(
      `postgresql://${ROLES.owner}:\${random_password.owner_password.result}@postgres:5432/${DATABASE}`,
    );
    // Its config still parses as the worker's: the same file and PgBouncer URLs (unused by --migrate).
    expect(env('migrate').POWERHOUSE_DATABASE_URL).toBe(env('ingest').POWERHOUSE_DATABASE_URL);
  });

  it('outputs connect_info: the plain-HTTP endpoint on 127.0.0.1 and the client tables, nothing to pin', () => {
    const tables = describeDeployment(minimum, DOCKER_TARGET).workerConfig.tables.map(
      (t) => t.name ?? t.table,
    );
    // Plain HTTP: the worker's own port is published, with no TLS proxy in front.
    expect(containers.ingest.ports).toEqual([
      { internal: 8080, external: 8080, ip: '127.0.0.1', protocol: 'tcp' },
    ]);
    const parse = (j: TfJson) => parseConnectInfo(JSON.parse(unescape(j.output.connect_info.value)));
    expect(json.output.connect_info.sensitive).toBe(false);
    expect(parse(json)).toEqual({ version: 1, endpoint: 'http://127.0.0.1:8080', tables });
    expect(parse(synthLocal(presetTier('minimum'), { ingest: 18080 })).endpoint).toBe(
      'http://127.0.0.1:18080',
    );
    expect(json.output.connect_info.value).not.toMatch(/token|random_password/);
  });

  it('keeps its state at an explicit relative path', () => {
    expect(json.terraform.backend).toEqual({ local: { path: '../../../terraform.local.tfstate' } });
  });

  it('tunes for this machine by default, and for the tier it is given', () => {
    const detected = synthLocal();
    const maxConn = (j: TfJson) => {
      const conf = (j.resource.docker_container.postgres.upload as TfJson[]).find((u) =>
        (u.file as string).endsWith('90-powerhouse.conf'),
      )!;
      return /^max_connections = (\d+)/m.exec(conf.content)![1];
    };
    expect(maxConn(detected)).toBe(String(tune(detectTier()).postgres.max_connections.value));
    expect(maxConn(json)).toBe(String(minimum.postgres.max_connections.value));
    expect(detected.output.tier.value).toMatch(/^detect \(\d+ cores, \d+ MiB\)$/);
  });
});

describe('local tier from the environment', () => {
  it('is detect by default, a preset by name, and takes single overrides', () => {
    expect(localTierFromEnv({})).toEqual(detectTier());
    expect(localTierFromEnv({ POWERHOUSE_LOCAL_TIER: 'recommended' })).toEqual(presetTier('recommended'));
    expect(localTierFromEnv({ POWERHOUSE_LOCAL_TIER: 'minimum', POWERHOUSE_LOCAL_USERS: '10' })).toEqual(
      customTier(presetTier('minimum').hardware, 10, 'custom'),
    );
    expect(localTierFromEnv({ POWERHOUSE_LOCAL_RAM: '8GB' }).hardware.ramMiB).toBe(8192);
    expect(
      localTierFromEnv({
        POWERHOUSE_LOCAL_TIER: 'custom',
        POWERHOUSE_LOCAL_CORES: '2',
        POWERHOUSE_LOCAL_RAM: '4GB',
      }),
    ).toEqual(customTier({ cores: 2, ramMiB: 4096, disk: 'nvme' }, 40));
  });

  it('says which variable is wrong', () => {
    expect(() => localTierFromEnv({ POWERHOUSE_LOCAL_TIER: 'huge' })).toThrow(
      /POWERHOUSE_LOCAL_TIER "huge" is not a tier/,
    );
    expect(() => localTierFromEnv({ POWERHOUSE_LOCAL_CORES: 'four' })).toThrow(
      /POWERHOUSE_LOCAL_CORES must be a whole number/,
    );
    expect(() => localTierFromEnv({ POWERHOUSE_LOCAL_DISK: 'floppy' })).toThrow(
      /POWERHOUSE_LOCAL_DISK must be one of nvme/,
    );
    expect(() => localTierFromEnv({ POWERHOUSE_LOCAL_TIER: 'custom' })).toThrow(
      /needs POWERHOUSE_LOCAL_CORES and POWERHOUSE_LOCAL_RAM/,
    );
    expect(() => localTierFromEnv({ POWERHOUSE_LOCAL_RAM: '1GB' })).toThrow(/below the 2048 MiB/);
  });
});

// The three Hetzner stacks, synthesized in-process: what the Terraform JSON asks Hetzner for (server type,
// firewall, protection, network), that no secret is a literal, and that the user-data the server boots with
// fits Hetzner's 32 KiB, passes `cloud-init schema`, and carries render()'s files byte for byte.
import { describeDeployment } from '../../stacks/deployment';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Testing } from 'cdktf';
import { HETZNER_SERVER_TYPES, presetTier, tune, type PresetTierName } from '../../config-templates';
import { PGDG_KEY_FILE, PGDG_KEY_FINGERPRINT, USER_DATA_LIMIT_BYTES } from '../../stacks/cloud-init';
import { HetznerStack, PRIVATE_NETWORK } from '../../stacks/hetzner-stack';
import { INGEST_TLS_VALIDITY_HOURS } from '../../stacks/ingest-tls';
import { hetznerTarget } from '../../stacks/host-files';
import { HOST } from '../../stacks/host-files';
import { connectInfoSchema, SECRET_NAMES } from '../../config-templates';
import { checkArgs, fixture } from './hcloud-fixture';
import {
  allStrings,
  parseUserData,
  resolveReferences,
  secretLike,
  secretLikeRuns,
  unpackApplyScript,
  sha256Hex,
  synth,
  testBundle,
  testSecrets,
  type TfJson,
} from './synth-helpers';

const TIERS: PresetTierName[] = ['minimum', 'recommended', 'powerhouse'];
const bundle = testBundle();
const stacks = Object.fromEntries(
  TIERS.map((tier) => {
    const app = Testing.app();
    const stack = new HetznerStack(app, tier, { tier, workerBundle: bundle });
    return [tier, { stack, json: synth(stack) }];
  }),
) as Record<PresetTierName, { stack: HetznerStack; json: TfJson }>;

const CLOUD_INIT = '/usr/bin/cloud-init';
const hasCloudInit = fs.existsSync(CLOUD_INIT);
if (!hasCloudInit) {
  // .ci/run installs it; without it the schema test is skipped, and says so.
  console.warn(
    `${CLOUD_INIT} is absent: the cloud-init schema checks are SKIPPED (apt-get install cloud-init)`,
  );
}

const SHELLCHECK = ['/usr/bin/shellcheck', '/usr/local/bin/shellcheck'].find((p) => fs.existsSync(p));
if (!SHELLCHECK)
  console.warn('shellcheck is absent: the user-data scripts get `bash -n` only (apt-get install shellcheck)');

function userDataOf(json: TfJson): string {
  return json.resource.hcloud_server.server.user_data as string;
}

describe.each(TIERS)('Hetzner stack %s', (tier) => {
  const { json } = stacks[tier];
  const secrets = testSecrets();
  const resolved = resolveReferences(userDataOf(json), secrets, { data_volume_gb: '0' });
  const { config, files } = parseUserData(resolved);

  it("asks for the tier's dedicated-vCPU server type by default, overridable only upward", () => {
    expect(json.variable.server_type.default).toBe(HETZNER_SERVER_TYPES[tier].name);
    expect(json.resource.hcloud_server.server.server_type).toBe('${var.server_type}');
    const allowed = /contains\((\[[^\]]*\]), var\.server_type\)/.exec(
      json.variable.server_type.validation[0].condition,
    );
    const types = JSON.parse(allowed![1]) as string[];
    expect(types[0]).toBe(HETZNER_SERVER_TYPES[tier].name);
    expect(types).not.toContain('ccx13');
    if (tier !== 'minimum') expect(types).not.toContain('ccx23');
  });

  it('opens SSH to admin networks only, HTTPS to client and admin networks, PgBouncer to client networks only, and never PostgreSQL', () => {
    const rules = json.resource.hcloud_firewall.firewall.rule as TfJson[];
    const summary = rules.map((r) => `${r.direction} ${r.protocol} ${r.port ?? '-'} ${r.source_ips}`).sort();
    expect(summary).toEqual(
      [
        'in icmp - ${var.admin_cidrs}',
        'in tcp 22 ${var.admin_cidrs}',
        'in tcp 443 ${var.admin_cidrs}',
        'in tcp 443 ${var.client_cidrs}',
        'in tcp 6432 ${var.client_cidrs}',
      ].sort(),
    );
    expect(JSON.stringify(json.resource.hcloud_firewall)).not.toContain('5432');
    expect(json.resource.hcloud_server.server.firewall_ids).toEqual(['${hcloud_firewall.firewall.id}']);
    // PostgreSQL listens on loopback only, whatever the firewall does.
    const conf = files.get(`${HOST.staged}/postgresql/postgresql.conf`)!.content.toString();
    expect(conf).toMatch(/^listen_addresses = 'localhost'/m);
  });

  it('turns on backups, and delete/rebuild protection on the powerhouse tier only', () => {
    const server = json.resource.hcloud_server.server;
    expect(server.backups).toBe(true);
    expect(server.delete_protection).toBe(tier === 'powerhouse');
    expect(server.rebuild_protection).toBe(tier === 'powerhouse');
    expect(json.resource.hcloud_volume.data_volume.delete_protection).toBe(tier === 'powerhouse');
    expect(server.lifecycle.ignore_changes).toEqual(expect.arrayContaining(['user_data']));
  });

  it('attaches the server to the private network at its fixed address, after the subnet exists', () => {
    const server = json.resource.hcloud_server.server;
    expect(server.network).toEqual([
      { network_id: '${hcloud_network.network.id}', ip: PRIVATE_NETWORK.serverIp, alias_ips: [] },
    ]);
    expect(server.depends_on).toEqual(['hcloud_network_subnet.subnet']);
    expect(json.resource.hcloud_network.network.ip_range).toBe(PRIVATE_NETWORK.range);
    expect(json.resource.hcloud_network_subnet.subnet).toMatchObject({
      ip_range: PRIVATE_NETWORK.subnet,
      type: 'cloud',
      network_zone: '${local.network_zones[var.location]}',
    });
  });

  it('synthesizes every hcloud resource with documented argument names and types', () => {
    const byType: Record<string, string> = {
      hcloud_server: 'server',
      hcloud_firewall: 'firewall',
      hcloud_network: 'network',
      hcloud_network_subnet: 'network_subnet',
      hcloud_ssh_key: 'ssh_key',
      hcloud_volume: 'volume',
    };
    for (const [type, name] of Object.entries(byType)) {
      for (const [id, args] of Object.entries(json.resource[type] as Record<string, TfJson>)) {
        expect(checkArgs(args, fixture(name).arguments, `${type}.${id}`, { references: true })).toEqual([]);
      }
    }
    expect(json.terraform.required_providers.hcloud).toEqual({
      source: 'hetznercloud/hcloud',
      version: '~> 1.68',
    });
  });

  it('keeps its state at an explicit relative path', () => {
    expect(json.terraform.backend).toEqual({ local: { path: `../../../terraform.${tier}.tfstate` } });
  });

  it('generates every secret with random_password (letters and digits, 40) and outputs them only as sensitive', () => {
    expect(Object.keys(json.resource.random_password).sort()).toEqual([...SECRET_NAMES].sort());
    for (const p of Object.values(json.resource.random_password as Record<string, TfJson>)) {
      expect(p).toMatchObject({ length: 40, special: false });
    }
    for (const [name, o] of Object.entries(json.output as Record<string, TfJson>)) {
      if (JSON.stringify(o.value).includes('random_password'))
        expect([name, o.sensitive]).toEqual([name, true]);
    }
    expect(Object.keys(json.output)).toEqual(
      expect.arrayContaining([
        'ingest_url',
        'pgbouncer_endpoint',
        'server_ipv4',
        'how_to_get_secrets',
        'ingest_token',
      ]),
    );
    expect(json.variable.hcloud_token.sensitive).toBe(true);
    expect(json.variable.ssh_private_key.sensitive).toBe(true);
  });

  it('holds no secret literal: every string and every file inside user-data is free of generated-secret values', () => {
    const key = fs.readFileSync(PGDG_KEY_FILE, 'utf8');
    const unresolved = parseUserData(userDataOf(json));
    const findings: string[] = [];
    for (const s of allStrings(json)) {
      if (s.at === '$.resource.hcloud_server.server.user_data') continue; // unpacked below
      const value = s.value.startsWith('#!/bin/bash\n# powerhouse-apply')
        ? unpackApplyScript(s.value).text // its packed files, as text
        : s.value;
      findings.push(...secretLikeRuns(value).map((r) => `${s.at}: ${r}`));
    }
    for (const [p, f] of unresolved.files) {
      findings.push(...secretLikeRuns(f.content.toString()).map((r) => `${p}: ${r}`));
    }
    const apt = unresolved.config.apt.sources.pgdg;
    expect(apt.key).toBe(key); // the public signing key, checked below; nothing else is exempt
    expect(findings).toEqual([]);
    // The secrets reach the host by reference only, and the client tokens only as their SHA-256.
    const raw = userDataOf(json);
    for (const n of [
      'superuser_password',
      'app_password',
      'ingest_password',
      'bouncer_admin_password',
      'bouncer_stats_password',
    ])
      expect(raw).toContain(`\${random_password.${n}.result}`);
    expect(raw).not.toContain('${random_password.ingest_token.result}');
    expect(raw).not.toContain('${random_password.admin_token.result}');
    expect(raw).toContain('${sha256(random_password.ingest_token.result)}');
  });

  it('puts the test secrets only into the two root-only files, and the tokens only as hashes', () => {
    const holders = [...files].filter(([, f]) =>
      Object.values(secrets).some((s) => f.content.toString().includes(s)),
    );
    expect(holders.map(([p, f]) => [p, f.permissions, f.owner]).sort()).toEqual(
      [
        [HOST.ingestConfig, '0600', 'root:root'],
        [HOST.secretsEnv, '0600', 'root:root'],
      ].sort(),
    );
    const ingest = JSON.parse(files.get(HOST.ingestConfig)!.content.toString());
    expect(ingest.tokens).toEqual([{ id: 'default', sha256: sha256Hex(secrets.ingest_token), tables: '*' }]);
    expect(ingest.adminTokenSha256).toBe(sha256Hex(secrets.admin_token));
    expect(resolved).not.toContain(secrets.ingest_token);
    expect(resolved).not.toContain(secrets.admin_token);
  });

  it('stays under 32 KiB with the longest values Terraform can fill in', () => {
    const worst = resolveReferences(userDataOf(json), testSecrets(), { data_volume_gb: '10240' });
    const bytes = Buffer.byteLength(worst);
    expect(bytes).toBeLessThan(USER_DATA_LIMIT_BYTES);
    // Headroom is reported so a growing script is noticed before it hits the limit.
    console.info(`user-data ${tier}: ${bytes} bytes of ${USER_DATA_LIMIT_BYTES}`);
  });

  it("carries render()'s files for this tier byte for byte, with their modes", () => {
    // The host's description: render() with the WAL archive command of its pgBackRest.
    const expected = describeDeployment(tune(presetTier(tier)), hetznerTarget()).files;
    for (const f of expected) {
      const got = files.get(`${HOST.staged}/${f.path}`);
      expect(got).toBeDefined();
      expect(got!.content.equals(Buffer.from(f.content, 'utf8'))).toBe(true);
      expect(got!.permissions).toBe(f.mode);
    }
    const staged = [...files.keys()].filter((p) => p.startsWith(`${HOST.staged}/`));
    expect(staged.sort()).toEqual(expected.map((f) => `${HOST.staged}/${f.path}`).sort());
    // The bootstrap installs each one where the packages read it.
    const bootstrap = files.get(HOST.bootstrap)!.content.toString();
    for (const f of expected) expect(bootstrap).toContain(`'${HOST.staged}/${f.path}' '${f.installPath}'`);
  });

  it('adds apt.postgresql.org with its signing key and runs the bootstrap once', () => {
    expect(config.apt.sources.pgdg.source).toBe(
      'deb [signed-by=$KEY_FILE] https://apt.postgresql.org/pub/repos/apt $RELEASE-pgdg main',
    );
    expect(config.runcmd).toEqual([[HOST.bootstrap]]);
    expect(config.final_message).toContain(tier);
    const bootstrap = files.get(HOST.bootstrap)!.content.toString();
    expect(bootstrap).toContain(
      'apt-get install -y -q --no-install-recommends postgresql-16 pgbouncer pgbackrest nodejs caddy',
    );
  });

  it('ships shell scripts that bash parses and shellcheck passes (when installed)', () => {
    const scripts = [...files].filter(([, f]) => f.content.toString().startsWith('#!/bin/bash'));
    expect(scripts.map(([p]) => p).sort()).toEqual(
      [HOST.bootstrap, HOST.dbSetup, HOST.migrate, HOST.tlsScript, HOST.installWorker].sort(),
    );
    for (const [p, f] of scripts) {
      expect(f.permissions).toBe('0755');
      const r = spawnSync('bash', ['-n'], { input: f.content });
      expect([p, r.status, r.stderr.toString()]).toEqual([p, 0, '']);
      if (SHELLCHECK) {
        const sc = spawnSync(SHELLCHECK, ['-s', 'bash', '-S', 'warning', '-'], { input: f.content });
        expect([p, sc.status, sc.stdout.toString()]).toEqual([p, 0, '']);
      }
    }
  });

  it("requires TLS of PgBouncer's clients, and the worker verifies PgBouncer's certificate", () => {
    const ini = files.get(`${HOST.staged}/pgbouncer/pgbouncer.ini`)!.content.toString();
    expect(ini).toMatch(/^client_tls_sslmode = require$/m);
    expect(ini).toContain(`\nclient_tls_key_file = ${HOST.pgbouncerTlsKey}\n`);
    expect(ini).toContain(`\nclient_tls_cert_file = ${HOST.pgbouncerTlsCert}\n`);
    expect(ini).not.toMatch(/^server_tls_/m);
    // The worker's URLs (uploads and PgBouncer's console) verify the certificate for 127.0.0.1 with the 0644 copy.
    const ingest = JSON.parse(files.get(HOST.ingestConfig)!.content.toString());
    for (const key of ['databaseUrl', 'pgbouncerAdminUrl']) {
      const url = new URL(ingest[key]);
      expect([key, url.host, url.search]).toEqual([
        key,
        '127.0.0.1:6432',
        `?sslmode=verify-full&sslrootcert=${HOST.pgbouncerCa}`,
      ]);
    }
  });

  it('gives the migrate step the owner URL straight to PostgreSQL, without PgBouncer\u2019s TLS parameters', () => {
    const env = files.get(HOST.secretsEnv)!.content.toString();
    const owner = /^POWERHOUSE_OWNER_DATABASE_URL=(.*)$/m.exec(env)?.[1];
    expect(owner).toBeDefined();
    const url = new URL(owner!);
    expect([url.username, url.host, url.pathname, url.search]).toEqual([
      'powerhouse_owner',
      '127.0.0.1:5432',
      '/powerhouse',
      '',
    ]);
  });

  it("makes PgBouncer's certificate after the packages and before PgBouncer restarts, and probes it over TLS", () => {
    const bootstrap = files.get(HOST.bootstrap)!.content.toString();
    const at = (needle: string) => {
      const i = bootstrap.indexOf(needle);
      if (i < 0) throw new Error(`the bootstrap has no ${needle}`);
      return i;
    };
    const cert = `${HOST.tlsScript} --name pgbouncer ${HOST.pgbouncerTlsDir} postgres "$public_ip" ${PRIVATE_NETWORK.serverIp} 127.0.0.1\n`;
    const caCopy = `install -m 0644 ${HOST.pgbouncerTlsCert} ${HOST.pgbouncerCa}\n`;
    const order = [
      at('step "packages"'),
      at('\npublic_ip=$(ip -4 -o route get 1.1.1.1'),
      at(cert),
      at(caCopy),
      at(`' '/etc/pgbouncer/pgbouncer.ini'\n`),
      at('systemctl restart pgbouncer'),
      at('SHOW VERSION'),
      at(`${HOST.tlsScript} ${HOST.tlsDir} caddy "$public_ip"`),
    ];
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(bootstrap.match(/systemctl (re)?start pgbouncer/g)).toEqual(['systemctl restart pgbouncer']);
    expect(bootstrap.match(/^public_ip=/gm)).toHaveLength(1);
    // The probe is the worker's view: TLS, the certificate verified for 127.0.0.1 with the worker's copy.
    expect(bootstrap).toContain(
      `PGSSLMODE=verify-full PGSSLROOTCERT=${HOST.pgbouncerCa} PGPASSWORD=$POWERHOUSE_BOUNCER_STATS_PASSWORD psql -X -At -h 127.0.0.1 -p 6432 -U pgbouncer_stats -d pgbouncer -c 'SHOW VERSION'`,
    );
  });

  it("outputs how to pin PgBouncer's certificate, and says its endpoint requires TLS", () => {
    expect(json.output.pgbouncer_tls_fingerprint_command.value).toBe(
      `ssh root@\${hcloud_server.server.ipv4_address} openssl x509 -in ${HOST.pgbouncerTlsCert} -noout -fingerprint -sha256`,
    );
    expect(json.output.pgbouncer_endpoint.description).toMatch(/TLS is required, plaintext is refused/);
    expect(json.output.pgbouncer_endpoint.description).toContain(
      `sslmode=verify-full and sslrootcert = PgBouncer's self-signed certificate, a copy of ${HOST.pgbouncerCa}`,
    );
  });

  (hasCloudInit ? it : it.skip)('passes `cloud-init schema`', () => {
    const file = path.join(os.tmpdir(), `powerhouse-user-data-${tier}-${process.pid}.yaml`);
    fs.writeFileSync(file, resolved);
    try {
      const r = spawnSync(CLOUD_INIT, ['schema', '-c', file], { encoding: 'utf8' });
      expect([r.status, r.stdout.trim(), r.stderr.trim()]).toEqual([0, `Valid cloud-config: ${file}`, '']);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('copies the worker bundle over SSH and waits for the endpoint, re-running when the bundle changes', () => {
    const w = json.resource.terraform_data.ingest_worker;
    expect(w.triggers_replace).toEqual({
      server: '${hcloud_server.server.id}',
      bundle: bundle.sha256,
      host_cli: bundle.hostCli.sha256,
      host_files: expect.stringMatching(/^[0-9a-f]{64}$/), // tests/stacks/host-apply.test.ts
      admin_cidrs: '${join(",", var.admin_cidrs)}', // powerhouse-apply writes them for Caddy
      // A new bucket or key re-runs the setup; only a hash of the variables, never their values.
      repository: expect.stringMatching(/^\$\{nonsensitive\(sha256\(jsonencode\(\[var\.backup_s3_bucket, /),
      // A new certificate reaches the host (the public certificate, never the key).
      tls_certificate: '${tls_self_signed_cert.ingest_tls.cert_pem}',
    });
    expect(w.connection).toMatchObject({
      type: 'ssh',
      user: 'root',
      host: '${hcloud_server.server.ipv4_address}',
    });
    const [file, cli, repository, cert, key, apply, exec] = w.provisioner;
    expect(file.file.destination).toBe(HOST.workerUpload);
    expect(file.file.source).toMatch(/^assets\/worker_bundle\/[0-9A-F]+\/ingest-worker\.js$/);
    expect(cli.file.destination).toBe(HOST.cliUpload);
    expect(cli.file.source).toMatch(/^assets\/host_cli_bundle\/[0-9A-F]+\/powerhouse-host\.js$/);
    // The repository's file: the variables and the generated cipher pass as references only.
    expect(repository.file.destination).toBe(HOST.repositoryUpload);
    expect(repository.file.content).toContain(
      'repo1-s3-bucket=${var.backup_s3_bucket == null ? "" : var.backup_s3_bucket}',
    );
    expect(repository.file.content).toContain(
      'repo1-cipher-pass=${random_password.backup_cipher_pass.result}',
    );
    expect(repository.file.content).toContain(`repo1-path=/powerhouse-${tier}`);
    // The ingest endpoint's certificate and key, by reference only, before the script that installs them.
    expect(cert.file).toEqual({
      content: '${tls_self_signed_cert.ingest_tls.cert_pem}',
      destination: HOST.tlsCertUpload,
    });
    expect(key.file).toEqual({
      content: '${tls_private_key.ingest_tls.private_key_pem}',
      destination: HOST.tlsKeyUpload,
    });
    expect(apply.file.destination).toBe('/root/powerhouse-apply');
    expect(exec['remote-exec'].inline).toEqual([
      `bash /root/powerhouse-apply; rc=$?; rm -f /root/powerhouse-apply ${HOST.tlsKeyUpload} ${HOST.tlsCertUpload}; exit $rc`,
      `${HOST.installWorker} ${HOST.workerUpload} ${bundle.sha256} ${HOST.cliUpload} ${bundle.hostCli.sha256}`,
      HOST.backupSetup,
    ]);
  });

  it("makes the ingest endpoint's key and certificate with hashicorp/tls, for the server's addresses", () => {
    expect(json.terraform.required_providers).toMatchObject({
      tls: { source: 'hashicorp/tls', version: expect.stringMatching(/^4\./) },
      // content_sha256 exists since hashicorp/local 2.4.0.
      local: { source: 'hashicorp/local', version: expect.stringMatching(/^2\.([4-9]|\d\d)\./) },
    });
    expect(json.resource.tls_private_key).toEqual({
      ingest_tls: { algorithm: 'ECDSA', ecdsa_curve: 'P256' },
    });
    expect(json.resource.tls_self_signed_cert).toEqual({
      ingest_tls: {
        private_key_pem: '${tls_private_key.ingest_tls.private_key_pem}',
        subject: [{ common_name: 'powerhouse-ingest' }],
        // The public IPv4 as Hetzner assigns it (clients), the private address, loopback (install-worker).
        ip_addresses: ['${hcloud_server.server.ipv4_address}', PRIVATE_NETWORK.serverIp, '127.0.0.1'],
        allowed_uses: ['digital_signature', 'server_auth'],
        validity_period_hours: INGEST_TLS_VALIDITY_HOURS,
        // No early renewal: the pin changes only when the certificate has expired (or the server is replaced).
        early_renewal_hours: 0,
      },
    });
    expect(INGEST_TLS_VALIDITY_HOURS).toBeGreaterThanOrEqual(5 * 365 * 24);
    // Caddy serves it to clients that send no SNI under this name.
    expect(files.get(HOST.caddyfileStaged)!.content.toString()).toContain('default_sni powerhouse-ingest');
  });

  it("computes the certificate's SHA-256 fingerprint with local_file from its DER (tests/stacks/ingest-tls.test.ts evaluates it)", () => {
    expect(json.resource.local_file).toEqual({
      ingest_tls_certificate_der: {
        filename: '${path.module}/ingest-certificate.der',
        content_base64:
          '${replace(tls_self_signed_cert.ingest_tls.cert_pem, "/-----[A-Z ]+-----|[[:space:]]/", "")}',
        file_permission: '0644',
        directory_permission: '0755',
      },
    });
    const fingerprint =
      '${upper(join(":", regexall("..", local_file.ingest_tls_certificate_der.content_sha256)))}';
    expect(json.output.tls_fingerprint_sha256).toMatchObject({ value: fingerprint, sensitive: false });
    expect(json.output.tls_certificate_pem).toMatchObject({
      value: '${tls_self_signed_cert.ingest_tls.cert_pem}',
      sensitive: false,
    });
  });

  it('outputs connect_info: the endpoint, its certificate and fingerprint, and the client tables, as JSON', () => {
    const tables = describeDeployment(tune(presetTier(tier)), hetznerTarget()).workerConfig.tables.map(
      (t) => t.name ?? t.table,
    );
    expect(tables.length).toBeGreaterThan(0);
    expect(json.output.connect_info).toMatchObject({
      sensitive: false,
      value: `\${jsonencode({"version" = 1, "endpoint" = "https://\${hcloud_server.server.ipv4_address}", "certificatePem" = tls_self_signed_cert.ingest_tls.cert_pem, "fingerprintSha256" = upper(join(":", regexall("..", local_file.ingest_tls_certificate_der.content_sha256))), "tables" = ${JSON.stringify(tables).replace(/,/g, ', ')}})}`,
    });
    // Every field the schema knows but the token ones (a stack output never holds a token).
    const fields = Object.keys(connectInfoSchema.shape);
    expect(fields.filter((f) => !f.startsWith('token')).sort()).toEqual(
      ['certificatePem', 'endpoint', 'fingerprintSha256', 'tables', 'version'].sort(),
    );
    expect(json.output.connect_info.value).not.toMatch(/token|random_password/);
    expect(json.output).not.toHaveProperty('tls_fingerprint_command');
    expect(json.output.ingest_url.description).not.toContain('tls_fingerprint_command');
    expect(json.output.ingest_url.description).toMatch(/tls_fingerprint_sha256/);
    expect(json.output.ingest_token).toMatchObject({ sensitive: true });
    expect(json.output.admin_token).toMatchObject({ sensitive: true });
  });

  it('never writes the ingest key: one reference for the certificate, one for the upload, no output', () => {
    const ref = '${tls_private_key.ingest_tls.private_key_pem}';
    const holders = allStrings(json).filter((x) => x.value.includes('tls_private_key'));
    expect(holders.map((h) => [h.at, h.value]).sort()).toEqual(
      [
        ['$.resource.tls_self_signed_cert.ingest_tls.private_key_pem', ref],
        ['$.resource.terraform_data.ingest_worker.provisioner[4].file.content', ref],
      ].sort(),
    );
    // Nothing PEM-like is a literal anywhere (the certificate too exists only in Terraform's state).
    const pem = /-----BEGIN (CERTIFICATE|[A-Z ]*PRIVATE KEY)-----/;
    expect(
      allStrings(json)
        .filter((x) => pem.test(x.value))
        .map((x) => x.at),
    ).toEqual([]);
    // The host gets the key only through that upload: not in user-data, not in powerhouse-apply.
    expect(userDataOf(json)).not.toContain('tls_private_key');
  });

  it('warns at plan and apply when no backup repository is set, and keeps the keys and the cipher pass sensitive', () => {
    expect(json.check.backup_repository.assert).toEqual([
      { condition: '${var.backup_s3_bucket != null}', error_message: expect.stringMatching(/^NO BACKUPS: /) },
    ]);
    for (const v of ['backup_s3_access_key', 'backup_s3_secret_key'])
      expect(json.variable[v]).toMatchObject({ sensitive: true, default: null });
    expect(json.variable.backup_s3_bucket).toMatchObject({ default: null, nullable: true });
    expect(json.output.backup_cipher_pass).toMatchObject({ sensitive: true });
    expect(json.output.backup_repository.value).toMatch(/NONE: no backups/);
  });
});

(hasCloudInit ? it : it.skip)('`cloud-init schema` rejects a broken document (the check can fail)', () => {
  const { json } = stacks.minimum;
  const doc = resolveReferences(userDataOf(json), testSecrets(), { data_volume_gb: '0' }).replace(
    '"runcmd": [',
    '"runcmd": "not a list", "x_runcmd": [',
  );
  const file = path.join(os.tmpdir(), `powerhouse-user-data-broken-${process.pid}.yaml`);
  fs.writeFileSync(file, doc);
  try {
    const r = spawnSync(CLOUD_INIT, ['schema', '-c', file], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/runcmd/);
  } finally {
    fs.rmSync(file, { force: true });
  }
});

it('embeds the apt.postgresql.org key whose fingerprint is B97B 0AFC ... ACCC 4CF8', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-gpg-'));
  try {
    const out = execFileSync('gpg', ['--homedir', home, '--with-colons', '--show-keys', PGDG_KEY_FILE], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const fprs = out
      .split('\n')
      .filter((l) => l.startsWith('fpr:'))
      .map((l) => l.split(':')[9]);
    expect(fprs[0]).toBe(PGDG_KEY_FINGERPRINT);
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
});

describe('synth-time input checks', () => {
  const make = (props: Partial<ConstructorParameters<typeof HetznerStack>[2]>) => () =>
    new HetznerStack(Testing.app(), 'x', { tier: 'recommended', workerBundle: bundle, ...props });

  it('names the bad input and what is allowed', () => {
    expect(make({ tier: 'huge' as PresetTierName })).toThrow(
      /tier "huge" is not minimum, recommended or powerhouse/,
    );
    expect(make({ serverType: 'ccx23' })).toThrow(
      /"ccx23" is too small or unknown for tier recommended; use one of ccx33/,
    );
    expect(make({ location: 'mars1' })).toThrow(/location "mars1" is not one of fsn1/);
    expect(make({ adminCidrs: ['10.0.0.0/33'] })).toThrow(
      /adminCidrs\[0\] "10.0.0.0\/33" has prefix \/33, above \/32/,
    );
    expect(make({ adminCidrs: ['0.0.0.0/0'] })).toThrow(/opens the port to the whole internet/);
    expect(make({ clientCidrs: ['203.0.113.300/32'] })).toThrow(
      /clientCidrs\[0\] .* has no valid IPv4 or IPv6 address/,
    );
    expect(make({ clientCidrs: [] })).toThrow(/clientCidrs: give at least one CIDR/);
    expect(make({ dataVolumeGb: 5 })).toThrow(/dataVolumeGb must be 0 or a whole number from 10 to 10240/);
    expect(make({ image: 'ubuntu-24.04' as 'debian-13' })).toThrow(
      /image "ubuntu-24.04" is not supported; use debian-13/,
    );
  });

  it('accepts valid defaults and writes them as the variables\u2019 defaults', () => {
    const json = synth(
      make({
        adminCidrs: ['198.51.100.4/32', '2001:db8::/48'],
        clientCidrs: ['0.0.0.0/0'],
        dataVolumeGb: 100,
      })(),
    );
    expect(json.variable.admin_cidrs.default).toEqual(['198.51.100.4/32', '2001:db8::/48']);
    expect(json.variable.client_cidrs.default).toEqual(['0.0.0.0/0']);
    expect(json.variable.data_volume_gb.default).toBe(100);
  });

  it('leaves admin and client networks without default, so Terraform asks for them', () => {
    const { json } = stacks.recommended;
    expect(json.variable.admin_cidrs).not.toHaveProperty('default');
    expect(json.variable.client_cidrs).not.toHaveProperty('default');
    expect(json.variable.ssh_public_key).not.toHaveProperty('default');
  });
});

it('uses test secrets that look like the real ones', () => {
  // The scans above are only as good as this: a real random_password value is flagged.
  expect(secretLikeRuns(`x=${secretLike()}`)).toHaveLength(1);
  expect(secretLikeRuns('sha256 ' + sha256Hex('x'))).toHaveLength(0);
});

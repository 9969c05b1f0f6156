// powerhouse-apply, as `cdktf deploy` runs it on an existing server: the synthesized provisioner's content,
// with Terraform's references resolved as apply would, run with DESTDIR writes byte for byte the same
// deployment files as the user-data of a new server, so an existing host gets this version's description.
// The role setup it then runs is the one tests/privileges/upgrade.test.ts takes from a v1 database.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Testing } from 'cdktf';
import { APPLY_UPLOAD } from '../../stacks/host-apply';
import { HetznerStack } from '../../stacks/hetzner-stack';
import { HOST, tlsCertScript } from '../../stacks/host-files';
import {
  allStrings,
  parseUserData,
  resolveReferences,
  secretLikeRuns,
  synth,
  testBundle,
  testSecrets,
  type TfJson,
  unpackApplyScript,
} from './synth-helpers';

const bundle = testBundle();
const json = synth(new HetznerStack(Testing.app(), 'minimum', { tier: 'minimum', workerBundle: bundle }));
const other = synth(
  new HetznerStack(Testing.app(), 'recommended', { tier: 'recommended', workerBundle: bundle }),
);
const secrets = testSecrets();
const worker = (j: TfJson) => j.resource.terraform_data.ingest_worker as TfJson;
const provisioners = (j: TfJson) => worker(j).provisioner as TfJson[];
const applyFile = (j: TfJson) =>
  provisioners(j).find((p) => p.file?.destination === APPLY_UPLOAD)!.file as { content: string };

/** The PEM label of a SEC 1 key, spelled so that no key-shaped line sits in the repository: keys are made per run. */
const SEC1_LABEL = ['EC', 'PRIVATE', 'KEY'].join(' ');

/** An ECDSA P-256 key and self-signed certificate like tls_private_key's and tls_self_signed_cert's, as PEM. */
function makeCertificate(dir: string, name: string): { crt: string; key: string } {
  const crt = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=powerhouse-ingest', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', crt,
  ], { stdio: 'ignore' }); // prettier-ignore
  // tls_private_key's private_key_pem of an ECDSA key is SEC 1 (label SEC1_LABEL), not openssl's PKCS #8.
  const sec1 = execFileSync('openssl', ['ec', '-in', key], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  expect(sec1.startsWith(`-----BEGIN ${SEC1_LABEL}-----\n`)).toBe(true);
  return { crt: fs.readFileSync(crt, 'utf8'), key: sec1 };
}

/** What Terraform's file provisioners leave on the host before the script runs, under DESTDIR. */
function upload(dir: string, pair: { crt: string; key: string }) {
  fs.mkdirSync(path.join(dir, 'root'), { recursive: true });
  fs.writeFileSync(path.join(dir, HOST.tlsCertUpload), pair.crt);
  fs.writeFileSync(path.join(dir, HOST.tlsKeyUpload), pair.key);
}

const ADMIN_CIDRS = JSON.stringify(['198.51.100.4/32', '2001:db8::/48']);

/** Terraform's template rules: `$${` and `%%{` are literal, every `${…}` a reference. */
function resolveTemplate(text: string): string {
  const parts = text.split(/(\$\$\{|%%\{)/);
  return parts
    .map((p) =>
      p === '$${' ? '${' : p === '%%{' ? '%{' : resolveReferences(p, secrets, { admin_cidrs: ADMIN_CIDRS }),
    )
    .join('');
}

describe('powerhouse-apply (every apply, existing servers)', () => {
  let dir: string;
  let keys: string;
  let first: { crt: string; key: string };
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-apply-'));
    keys = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-apply-keys-'));
    first = makeCertificate(keys, 'first');
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(keys, { recursive: true, force: true });
  });
  const runApply = () =>
    spawnSync('bash', ['-c', resolveTemplate(applyFile(json).content)], {
      env: { ...process.env, DESTDIR: dir },
      encoding: 'utf8',
    });

  it('is uploaded with the certificate and key and run before the worker is installed, all removed whatever its outcome', () => {
    const inline = provisioners(json).find((p) => p['remote-exec'])!['remote-exec'].inline as string[];
    expect(inline[0]).toBe(
      `bash ${APPLY_UPLOAD}; rc=$?; rm -f ${APPLY_UPLOAD} ${HOST.tlsKeyUpload} ${HOST.tlsCertUpload}; exit $rc`,
    );
    expect(inline[1]).toMatch(new RegExp(`^${HOST.installWorker} `));
    const order = provisioners(json).map((p) => p.file?.destination ?? 'remote-exec');
    const at = (d: string) => order.indexOf(d);
    expect(at(HOST.tlsCertUpload)).toBeGreaterThanOrEqual(0);
    expect(at(HOST.tlsKeyUpload)).toBeGreaterThanOrEqual(0);
    expect(Math.max(at(HOST.tlsCertUpload), at(HOST.tlsKeyUpload))).toBeLessThan(at('remote-exec'));
  });

  it('writes the same deployment files as the user-data of a new server', () => {
    upload(dir, first);
    const r = runApply();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const { files } = parseUserData(
      resolveReferences(json.resource.hcloud_server.server.user_data, secrets, { data_volume_gb: '0' }),
    );
    const expected = [
      HOST.dbSetup,
      HOST.rolesSql,
      HOST.userlistSql,
      HOST.migrate,
      HOST.tlsScript,
      HOST.installWorker,
      HOST.workerUnit,
      `${HOST.staged}/pgbouncer/pgbouncer.ini`,
      HOST.secretsEnv,
      HOST.ingestConfig,
    ];
    for (const p of expected) {
      const written = fs.readFileSync(path.join(dir, p));
      expect([p, written.toString('utf8')]).toEqual([p, files.get(p)!.content.toString('utf8')]);
      expect([p, (fs.statSync(path.join(dir, p)).mode & 0o777).toString(8)]).toEqual([
        p,
        files.get(p)!.permissions.replace(/^0/, ''),
      ]);
    }
    // The secrets arrive filled in: the owner's URL for the migrate step, the token only as its hash.
    expect(fs.readFileSync(path.join(dir, HOST.secretsEnv), 'utf8')).toContain(secrets.owner_password);
    const config = fs.readFileSync(path.join(dir, HOST.ingestConfig), 'utf8');
    expect(config).not.toContain(secrets.ingest_token);
    expect(config).not.toContain(secrets.owner_password);
  });

  it("writes this version's Caddyfile and the stack's admin_cidrs as the admin routes' networks", () => {
    upload(dir, first);
    const r = runApply();
    expect([r.status, r.stderr]).toEqual([0, '']);
    const { files } = parseUserData(
      resolveReferences(json.resource.hcloud_server.server.user_data, secrets, { data_volume_gb: '0' }),
    );
    const caddy = fs.readFileSync(path.join(dir, HOST.caddyfileStaged), 'utf8');
    expect(caddy).toBe(files.get(HOST.caddyfileStaged)!.content.toString('utf8'));
    expect(caddy).toContain(`import ${HOST.caddyAdminNetworks}`);
    expect(fs.readFileSync(path.join(dir, HOST.caddyAdminNetworksStaged), 'utf8')).toMatch(
      /^not remote_ip 198\.51\.100\.4\/32 2001:db8::\/48$/m,
    );
    // A new server's first boot: this host only, until this script runs.
    expect(files.get(HOST.caddyAdminNetworksStaged)!.content.toString('utf8')).toMatch(
      /^not remote_ip 127\.0\.0\.1\/32 ::1\/128$/m,
    );
  });

  it("installs Terraform's certificate and key where Caddy reads them, with the first boot's modes, and never prints the key", () => {
    upload(dir, first);
    const r = runApply();
    expect([r.status, r.stderr]).toEqual([0, '']);
    const body = (pem: string) => pem.replace(/-----[A-Z ]+-----|\s/g, '');
    expect(r.stdout).not.toContain(body(first.key).slice(0, 40));
    const mode = (p: string) => (fs.statSync(path.join(dir, p)).mode & 0o777).toString(8);
    expect(fs.readFileSync(path.join(dir, HOST.tlsCert), 'utf8')).toBe(first.crt);
    expect(fs.readFileSync(path.join(dir, HOST.tlsKey), 'utf8')).toBe(first.key);
    // As powerhouse-tls-cert makes them (stacks/host-files.ts): the key group-readable (caddy on a host) only.
    expect([mode(HOST.tlsDir), mode(HOST.tlsCert), mode(HOST.tlsKey)]).toEqual(['750', '644', '640']);
    const script = tlsCertScript();
    expect(script).toContain('install -d -m 0750 -g "$group" "$dir"');
    expect(script).toContain('chmod 0640 "$key"; chmod 0644 "$crt"');
    expect(applyFile(json).content).toContain('tls_group=caddy;');
    // The uploads are gone (the key is a secret).
    expect(fs.existsSync(path.join(dir, HOST.tlsCertUpload))).toBe(false);
    expect(fs.existsSync(path.join(dir, HOST.tlsKeyUpload))).toBe(false);

    // The same pair again (the next apply): left as it is (a marker mode survives), so Caddy is not restarted.
    fs.chmodSync(path.join(dir, HOST.tlsKey), 0o600);
    upload(dir, first);
    expect(runApply().status).toBe(0);
    expect(mode(HOST.tlsKey)).toBe('600');

    // A key that does not belong to the certificate is refused, and nothing is installed.
    const other = makeCertificate(keys, 'other');
    upload(dir, { crt: other.crt, key: first.key });
    const bad = runApply();
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('the uploaded ingest key does not belong to its certificate');
    expect(bad.stderr + bad.stdout).not.toContain(body(first.key).slice(0, 40));
    expect(fs.readFileSync(path.join(dir, HOST.tlsCert), 'utf8')).toBe(first.crt);
    expect(fs.existsSync(path.join(dir, HOST.tlsKeyUpload))).toBe(false);

    // A new certificate (a replaced server): installed.
    upload(dir, other);
    expect(runApply().status).toBe(0);
    expect(fs.readFileSync(path.join(dir, HOST.tlsCert), 'utf8')).toBe(other.crt);
    expect(fs.readFileSync(path.join(dir, HOST.tlsKey), 'utf8')).toBe(other.key);
    expect(mode(HOST.tlsKey)).toBe('640'); // (so the marker check above can fail)

    // Nothing uploaded: an error that names the files, not a silent stand-in.
    const none = runApply();
    expect(none.status).toBe(1);
    expect(none.stderr).toContain(`Terraform did not upload ${HOST.tlsCertUpload} and ${HOST.tlsKeyUpload}`);
  });

  it('holds no secret literal in the Terraform JSON: only references', () => {
    const content = applyFile(json).content;
    expect(content).toContain('${random_password.owner_password.result}');
    // Packed files are base64 of gzip (random-looking by nature): scanned decoded.
    const { text, packed } = unpackApplyScript(content);
    // 8 of the description, 9 of backups (pgBackRest's config, the profile, the setup, the CLI wrapper, 5 units),
    // the Caddyfile.
    expect(packed).toBe(18);
    const others = allStrings(worker(json)).filter((x) => x.value !== content);
    expect([text, ...others.map((x) => x.value)].flatMap((t) => secretLikeRuns(t))).toEqual([]);
  });

  it('runs the role setup before PgBouncer takes the new userlist, after its certificate exists', () => {
    const s = resolveTemplate(applyFile(json).content);
    const at = (needle: string) => {
      const i = s.indexOf(needle);
      expect([needle, i >= 0]).toEqual([needle, true]);
      return i;
    };
    const cert = at(`${HOST.tlsScript} --name pgbouncer`);
    const setup = at(`  ${HOST.dbSetup} ${HOST.state}/db/userlist.txt`);
    const bouncer = at('systemctl restart pgbouncer');
    expect(cert).toBeLessThan(bouncer);
    expect(setup).toBeLessThan(bouncer);
    // Caddy restarts for a new ingest certificate only, after it is installed (install-worker, next, waits
    // for /readyz through Caddy with --cacert ${HOST.tlsCert}).
    const installed = at(`install -m 0644 -g "$tls_group" "$tls_crt" "$root${HOST.tlsCert}"`);
    const restart = at('if [ "$ingest_tls_changed" = 1 ]; then');
    expect(installed).toBeLessThan(restart);
    expect(s.slice(restart).split('\nelif ')[0]).toContain('systemctl restart caddy');
    // … otherwise a reload when its config (Caddyfile, admin networks) changed.
    expect(s.match(/systemctl (restart|reload) caddy/g)).toEqual([
      'systemctl restart caddy',
      'systemctl reload caddy',
    ]);
    expect(s.indexOf('[ -z "$root" ] || exit 0')).toBeGreaterThan(installed); // so DESTDIR runs test it
    expect(spawnSync('bash', ['-n', '-c', s]).status).toBe(0);
    const shellcheck = ['/usr/bin/shellcheck', '/usr/local/bin/shellcheck'].find((p) => fs.existsSync(p));
    if (shellcheck) {
      const file = path.join(dir, 'apply.sh');
      fs.writeFileSync(file, s);
      const sc = spawnSync(shellcheck, ['-S', 'warning', file], { encoding: 'utf8' });
      expect(sc.stdout).toBe('');
    }
  });

  it('re-runs when the description changes (its hash is a trigger), not otherwise', () => {
    const hash = worker(json).triggers_replace.host_files as string;
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(worker(other).triggers_replace.host_files).not.toBe(hash);
    const again = synth(
      new HetznerStack(Testing.app(), 'minimum', { tier: 'minimum', workerBundle: bundle }),
    );
    expect(worker(again).triggers_replace.host_files).toBe(hash);
  });
});

// powerhouse-apply, as `cdktf deploy` runs it on an existing server: the synthesized provisioner's content,
// with Terraform's references resolved as apply would, run with DESTDIR writes byte for byte the same
// deployment files as the user-data of a new server, so an existing host gets this version's description.
// The role setup it then runs is the one tests/privileges/upgrade.test.ts takes from a v1 database.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Testing } from 'cdktf';
import { APPLY_UPLOAD } from '../../stacks/host-apply';
import { HetznerStack } from '../../stacks/hetzner-stack';
import { HOST } from '../../stacks/host-files';
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

/** Terraform's template rules: `$${` and `%%{` are literal, every `${…}` a reference. */
function resolveTemplate(text: string): string {
  const parts = text.split(/(\$\$\{|%%\{)/);
  return parts
    .map((p) => (p === '$${' ? '${' : p === '%%{' ? '%{' : resolveReferences(p, secrets, {})))
    .join('');
}

describe('powerhouse-apply (every apply, existing servers)', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-apply-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is uploaded and run before the worker is installed, and removed whatever its outcome', () => {
    const inline = provisioners(json).find((p) => p['remote-exec'])!['remote-exec'].inline as string[];
    expect(inline[0]).toBe(`bash ${APPLY_UPLOAD}; rc=$?; rm -f ${APPLY_UPLOAD}; exit $rc`);
    expect(inline[1]).toMatch(new RegExp(`^${HOST.installWorker} `));
  });

  it('writes the same deployment files as the user-data of a new server', () => {
    const script = resolveTemplate(applyFile(json).content);
    const r = spawnSync('bash', ['-c', script], { env: { ...process.env, DESTDIR: dir }, encoding: 'utf8' });
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

  it('holds no secret literal in the Terraform JSON: only references', () => {
    const content = applyFile(json).content;
    expect(content).toContain('${random_password.owner_password.result}');
    // Packed files are base64 of gzip (random-looking by nature): scanned decoded.
    const { text, packed } = unpackApplyScript(content);
    // 8 of the description, 9 of backups (pgBackRest's config, the profile, the setup, the CLI wrapper, 5 units).
    expect(packed).toBe(17);
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

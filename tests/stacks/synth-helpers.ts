// Helpers for the stack tests: synthesize in-process, resolve the Terraform references in user-data with
// known test values, and unpack cloud-init's write_files.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Testing, type TerraformStack } from 'cdktf';
import { SECRET_LENGTH, SECRET_NAMES, type SecretName } from '../../config-templates';
import { describeBundle, type WorkerBundle } from '../../stacks/worker-bundle';

// Terraform JSON is a tree of plain objects; tests index it freely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TfJson = Record<string, any>;

export function synth(stack: TerraformStack): TfJson {
  return JSON.parse(Testing.synth(stack)) as TfJson;
}

/** A small stand-in file for stacks that need a worker bundle (the real bundle has its own test). */
export function testBundle(): WorkerBundle {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-bundle-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'ingest-worker.js');
  fs.writeFileSync(file, '// test bundle\n');
  const cli = path.join(dir, 'powerhouse-host.js');
  fs.writeFileSync(cli, '// test host cli\n');
  return { ...describeBundle(file), hostCli: describeBundle(cli) };
}

/** Random letters and digits like random_password(special=false) produces. */
export function secretLike(length = SECRET_LENGTH): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(length)].map((b) => alphabet[b % alphabet.length]).join('');
}

export type TestSecrets = Record<SecretName, string>;
export function testSecrets(): TestSecrets {
  return Object.fromEntries(SECRET_NAMES.map((n) => [n, secretLike()])) as TestSecrets;
}

export const sha256Hex = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * Replaces every Terraform reference in `text` the way `terraform apply` would, with the given values:
 * ${random_password.<name>.result}, ${sha256(random_password.<name>.result)}, ${var.<name>} and
 * ${join("<sep>", var.<name>)} (the list given as JSON). Any other
 * reference is an error, so a new one cannot slip through untested.
 */
export function resolveReferences(text: string, secrets: TestSecrets, vars: Record<string, string>): string {
  return text.replace(/\$\{([^}]*)\}/g, (ref, expr: string) => {
    let m = /^random_password\.(\w+)\.result$/.exec(expr);
    if (m && m[1] in secrets) return secrets[m[1] as SecretName];
    m = /^sha256\(random_password\.(\w+)\.result\)$/.exec(expr);
    if (m && m[1] in secrets) return sha256Hex(secrets[m[1] as SecretName]);
    m = /^var\.(\w+)$/.exec(expr);
    if (m && m[1] in vars) return vars[m[1]];
    // A list variable joined: its value given as a JSON array.
    m = /^join\("([^"]*)", var\.(\w+)\)$/.exec(expr);
    if (m && m[2] in vars) return (JSON.parse(vars[m[2]]) as string[]).join(m[1]);
    throw new Error(`unexpected Terraform reference ${ref}`);
  });
}

export interface WrittenFile {
  content: Buffer;
  permissions: string;
  owner: string;
  encoding?: string;
}

/** Parses #cloud-config (JSON is YAML) and decodes write_files. */
export function parseUserData(doc: string): { config: TfJson; files: Map<string, WrittenFile> } {
  const [header, ...rest] = doc.split('\n');
  if (header !== '#cloud-config') throw new Error(`user-data starts with "${header}", not #cloud-config`);
  const config = JSON.parse(rest.join('\n')) as TfJson;
  const files = new Map<string, WrittenFile>();
  for (const f of config.write_files as TfJson[]) {
    const content =
      f.encoding === 'gz+b64' ? gunzipSync(Buffer.from(f.content, 'base64')) : Buffer.from(f.content, 'utf8');
    files.set(f.path, { content, permissions: f.permissions, owner: f.owner, encoding: f.encoding });
  }
  return { config, files };
}

/** Every string anywhere in a JSON value, with its path. */
export function allStrings(value: unknown, at = '$'): { at: string; value: string }[] {
  if (typeof value === 'string') return [{ at, value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => allStrings(v, `${at}[${i}]`));
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => allStrings(v, `${at}.${k}`));
  return [];
}

/**
 * Looks like a generated secret: a run of 32+ letters and digits mixing upper case, lower case and digits.
 * Hex digests (lower case only) and base64 blobs of files are not secrets and are decoded separately.
 */
export function secretLikeRuns(text: string): string[] {
  return (text.match(/[A-Za-z0-9]{32,}/g) ?? []).filter(
    (r) => /[A-Z]/.test(r) && /[a-z]/.test(r) && /[0-9]/.test(r),
  );
}

/** powerhouse-apply's packed files (base64 of gzip, random-looking by nature) replaced by their text. */
export function unpackApplyScript(content: string): { text: string; packed: number } {
  let packed = 0;
  const text = content.replace(
    /^(put_packed \S+ \d+ <<'POWERHOUSE_APPLY_EOF'\n)([A-Za-z0-9+/=\n]*?)(POWERHOUSE_APPLY_EOF)$/gm,
    (_m, head: string, b64: string, tail: string) => {
      packed++;
      return head + gunzipSync(Buffer.from(b64.replace(/\n/g, ''), 'base64')).toString('utf8') + tail;
    },
  );
  return { text, packed };
}

// Fixtures written from the hcloud provider's docs (tests/fixtures/hcloud/*.json) and the check of a
// synthesized resource against them: argument names, JSON types, required arguments.
import fs from 'node:fs';
import path from 'node:path';

export type ArgSpec = { type: string; required?: boolean; nested?: Record<string, ArgSpec> };
export interface Fixture {
  resource: string;
  arguments: Record<string, ArgSpec>;
  attributes: Record<string, string>;
}

export const fixture = (name: string): Fixture =>
  JSON.parse(fs.readFileSync(path.join(__dirname, '../fixtures/hcloud', `${name}.json`), 'utf8')) as Fixture;

/** Terraform's own meta-arguments, allowed on every resource. */
const META = new Set([
  'count',
  'for_each',
  'depends_on',
  'lifecycle',
  'provider',
  'connection',
  'provisioner',
]);

export interface CheckOptions {
  /** Accept a Terraform reference ("${...}") for any argument type, and meta-arguments (stack JSON). */
  references?: boolean;
}

const isReference = (x: unknown) => typeof x === 'string' && /^\$\{.*\}$/s.test(x);

/** Problems of `value` against `spec`: unknown names, wrong JSON types, missing required names. */
export function checkArgs(
  value: Record<string, unknown>,
  spec: Record<string, ArgSpec>,
  where: string,
  opts: CheckOptions = {},
  top = true,
): string[] {
  const problems: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (opts.references && top && META.has(key)) continue;
    const s = spec[key];
    if (!s) {
      problems.push(`${where}.${key}: not an argument in the provider docs`);
      continue;
    }
    problems.push(...checkType(v, s, `${where}.${key}`, opts));
  }
  for (const [key, s] of Object.entries(spec)) {
    if (s.required && !(key in value)) problems.push(`${where}.${key}: required but not synthesized`);
  }
  return problems;
}

function checkType(v: unknown, s: ArgSpec, where: string, opts: CheckOptions): string[] {
  if (opts.references && isReference(v)) return [];
  const isObj = (x: unknown): x is Record<string, unknown> =>
    typeof x === 'object' && x !== null && !Array.isArray(x);
  const scalar: Record<string, (x: unknown) => boolean> = {
    string: (x) => typeof x === 'string',
    number: (x) => typeof x === 'number' || (!!opts.references && isReference(x)),
    bool: (x) => typeof x === 'boolean' || (!!opts.references && isReference(x)),
  };
  const list = /^list\((\w+)\)$/.exec(s.type);
  const map = /^map\((\w+)\)$/.exec(s.type);
  const bad = [`${where}: expected ${s.type}, got ${JSON.stringify(v)}`];
  if (s.type === 'block') {
    if (!Array.isArray(v) || !v.every(isObj))
      return [`${where}: expected a list of blocks, got ${JSON.stringify(v)}`];
    return v.flatMap((b, i) => checkArgs(b, s.nested ?? {}, `${where}[${i}]`, opts, false));
  }
  if (list) return Array.isArray(v) && v.every(scalar[list[1]]) ? [] : bad;
  if (map) return isObj(v) && Object.values(v).every(scalar[map[1]]) ? [] : bad;
  return scalar[s.type](v) ? [] : bad;
}

/** Every documented argument name, nested ones as `block.arg`. */
export function allNames(spec: Record<string, ArgSpec>, prefix = ''): string[] {
  return Object.entries(spec).flatMap(([k, s]) => [
    prefix + k,
    ...(s.nested ? allNames(s.nested, `${prefix}${k}.`) : []),
  ]);
}

/** Argument names present in a synthesized resource, nested ones as `block.arg`, each once. */
export function presentNames(value: Record<string, unknown>, prefix = ''): string[] {
  const names = Object.entries(value).flatMap(([k, v]) => {
    const blocks =
      Array.isArray(v) && v.length > 0 && typeof v[0] === 'object' ? (v as Record<string, unknown>[]) : [];
    return [prefix + k, ...blocks.flatMap((b) => presentNames(b, `${prefix}${k}.`))];
  });
  return [...new Set(names)];
}

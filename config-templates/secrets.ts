// Every secret a deployment has, once: its name, the environment variable that carries it, and the one
// placeholder syntax that stands for it in a deployment description until a target fills it in (Terraform
// references on Hetzner and Docker, ${VAR} in docker-compose, the real value in the local process stack).
import { randomInt } from 'node:crypto';
import { ROLES } from './names';

export const SECRETS = {
  superuser_password: { env: 'POWERHOUSE_SUPERUSER_PASSWORD', role: ROLES.superuser },
  owner_password: { env: 'POWERHOUSE_OWNER_PASSWORD', role: ROLES.owner },
  app_password: { env: 'POWERHOUSE_APP_PASSWORD', role: ROLES.app },
  ingest_password: { env: 'POWERHOUSE_INGEST_PASSWORD', role: ROLES.ingest },
  bouncer_admin_password: { env: 'POWERHOUSE_BOUNCER_ADMIN_PASSWORD', role: ROLES.bouncerAdmin },
  bouncer_stats_password: { env: 'POWERHOUSE_BOUNCER_STATS_PASSWORD', role: ROLES.bouncerStats },
  /** Bearer token for uploads (the worker keeps only its SHA-256). */
  ingest_token: { env: 'POWERHOUSE_INGEST_TOKEN', role: undefined },
  /** Bearer token for /v1/admin/* (SHA-256 only, like the upload token). */
  admin_token: { env: 'POWERHOUSE_ADMIN_TOKEN', role: undefined },
  /** Encrypts the backup repository (pgBackRest repo1-cipher-pass): without it no backup can be read. */
  backup_cipher_pass: { env: 'POWERHOUSE_BACKUP_CIPHER_PASS', role: undefined },
} as const;

export type SecretName = keyof typeof SECRETS;
export const SECRET_NAMES = Object.keys(SECRETS) as SecretName[];
/** Secret → the environment variable that carries it, on every target. */
export const SECRET_ENV = Object.fromEntries(SECRET_NAMES.map((n) => [n, SECRETS[n].env])) as {
  readonly [K in SecretName]: (typeof SECRETS)[K]['env'];
};

type RoleKey = keyof typeof ROLES;
/** Role key → the secret that is its password. */
export const ROLE_PASSWORD: { readonly [K in RoleKey]: SecretName } = {
  superuser: 'superuser_password',
  owner: 'owner_password',
  app: 'app_password',
  ingest: 'ingest_password',
  bouncerAdmin: 'bouncer_admin_password',
  bouncerStats: 'bouncer_stats_password',
};

/**
 * 40 letters and digits: ~238 bits, and safe unquoted in URLs, env files, ini and YAML (no escaping bug can
 * leak or corrupt one). Terraform's random_password and the generators here use the same alphabet.
 */
export const SECRET_LENGTH = 40;
export const SECRET_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A fresh secret (passwords, tokens) where no Terraform random_password makes it: the same length and alphabet. */
export function generateSecret(): string {
  let s = '';
  for (let i = 0; i < SECRET_LENGTH; i++) s += SECRET_ALPHABET[randomInt(SECRET_ALPHABET.length)];
  return s;
}

/** The value itself, or its hex SHA-256 (what the worker's config stores for a token). */
export type SecretForm = 'value' | 'sha256';

/** Stands for a secret in a description: `@@secret:app_password@@`, `@@secret:ingest_token:sha256@@`. */
export const placeholder = (name: SecretName, form: SecretForm = 'value'): string =>
  form === 'value' ? `@@secret:${name}@@` : `@@secret:${name}:${form}@@`;

const PLACEHOLDER = /@@secret:([a-z_]+)(?::(sha256))?@@/;
const WHOLE_PLACEHOLDER = /^@@secret:([a-z_]+)(?::(sha256))?@@$/;
/** For split(): one capture around the whole placeholder, so the parts alternate literal, placeholder. */
const SPLIT_PLACEHOLDERS = /(@@secret:[a-z_]+(?::sha256)?@@)/;

export const isPlaceholder = (s: string): boolean => WHOLE_PLACEHOLDER.test(s);

/** The secrets a text refers to. */
export function placeholdersIn(text: string): { name: SecretName; form: SecretForm }[] {
  const out: { name: SecretName; form: SecretForm }[] = [];
  for (const m of text.matchAll(new RegExp(PLACEHOLDER.source, 'g')))
    out.push({ name: m[1] as SecretName, form: (m[2] as SecretForm | undefined) ?? 'value' });
  return out;
}

/**
 * Text with placeholders → a target's syntax: literal parts escaped (`escape`), placeholders replaced by
 * references (`ref`). Literal text can thus never be read as a reference, and a reference is never escaped.
 * An unknown secret name is an error, not a silent literal.
 */
export function fillPlaceholders(
  text: string,
  escape: (literal: string) => string,
  ref: (name: SecretName, form: SecretForm) => string,
): string {
  return text
    .split(SPLIT_PLACEHOLDERS)
    .map((part) => {
      const m = WHOLE_PLACEHOLDER.exec(part);
      if (!m) return escape(part);
      if (!(m[1] in SECRETS)) throw new Error(`unknown secret ${m[1]} in placeholder ${part}`);
      return ref(m[1] as SecretName, (m[2] as SecretForm | undefined) ?? 'value');
    })
    .join('');
}

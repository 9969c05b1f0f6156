// The one DSN template. A password may be a secret placeholder (filled in later by the target) or a real
// value (URL-encoded here; generated secrets are letters and digits and need no encoding, which also keeps a
// Terraform reference that replaces a placeholder intact).
import { isPlaceholder } from './secrets';

export interface DsnParts {
  readonly user: string;
  readonly password: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  /** libpq query parameters, e.g. { sslmode: 'verify-full', sslrootcert: '/path/ca.crt' }. */
  readonly params?: Readonly<Record<string, string>>;
}

export function dsn(p: DsnParts): string {
  const pw = isPlaceholder(p.password) ? p.password : encodeURIComponent(p.password);
  const q = Object.entries(p.params ?? {}).map(
    ([k, v]) => `${k}=${/^[\w/.-]+$/.test(v) ? v : encodeURIComponent(v)}`,
  );
  const query = q.length ? `?${q.join('&')}` : '';
  return `postgresql://${encodeURIComponent(p.user)}:${pw}@${p.host}:${p.port}/${encodeURIComponent(p.database)}${query}`;
}

/** The same DSN with its password replaced: what may be shown or logged. */
export function redactDsn(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:/@]*):[^@]*@/, '$1:***@');
}

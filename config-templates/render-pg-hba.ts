import type { RenderOptions } from './render-options';

/** SCRAM everywhere; loopback and the private network only; everything else is rejected explicitly. */
export function renderPgHba(o: RenderOptions): string {
  const rows: [string, string, string, string, string][] = [
    ['local', 'all', 'all', '', 'scram-sha-256'],
    ['host', 'all', 'all', '127.0.0.1/32', 'scram-sha-256'],
    ['host', 'all', 'all', '::1/128', 'scram-sha-256'],
    ...o.allowedCidrs.map((cidr): [string, string, string, string, string] => [
      'host',
      'all',
      'all',
      cidr,
      'scram-sha-256',
    ]),
    ['host', 'all', 'all', '0.0.0.0/0', 'reject'],
    ['host', 'all', 'all', '::/0', 'reject'],
  ];
  const lines = [
    '# pg_hba.conf rendered by db-powerhouse: scram-sha-256 only (no md5, no trust),',
    '# loopback (PgBouncer, the ingest worker) and the private network; all else rejected.',
    '# TYPE  DATABASE  USER  ADDRESS  METHOD',
    ...rows.map((r) => r.filter((c) => c !== '').join('\t')),
  ];
  return lines.join('\n') + '\n';
}

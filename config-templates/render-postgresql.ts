import type { PgParam, Settings } from './settings';
import type { RenderOptions } from './render-options';

/** A value in postgresql.conf syntax. MB values that are whole GB are written as GB, as PostgreSQL's SHOW does. */
export function pgValue(p: PgParam): string {
  const v = p.value;
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (typeof v === 'string') return `'${v.replace(/'/g, "''")}'`;
  if (p.unit === 'MB' && v >= 1024 && v % 1024 === 0) return `${v / 1024}GB`;
  return p.unit ? `${v}${p.unit}` : String(v);
}

export function renderPostgresqlConf(s: Settings, o: RenderOptions): string {
  const hw = s.tier.hardware;
  const lines = [
    `# PostgreSQL 16 settings rendered by db-powerhouse for tier "${s.tier.name}"`,
    `# (${hw.cores} cores, ${hw.ramMiB} MiB RAM, ${hw.disk}, ${s.tier.users} concurrent uploaders).`,
    '# Generated: edit the tier, not this file. Each value says why it has that value.',
    '',
    `listen_addresses = '${o.pgListen}'  # loopback (PgBouncer) and the private network only`,
    `port = ${o.pgPort}`,
    `unix_socket_directories = '${o.pgSocketDir}'`,
    '',
  ];
  for (const [name, p] of Object.entries(s.postgres)) {
    lines.push(`${name} = ${pgValue(p)}  # ${p.reason}`);
  }
  lines.push('');
  if (o.archiveCommand) {
    lines.push(
      'archive_mode = on  # every WAL segment goes to the backup repository: point-in-time recovery',
      `archive_command = ${pgValue({ value: o.archiveCommand, reason: '' })}  # pgBackRest; a failure keeps the segment in pg_wal and retries`,
    );
  } else {
    lines.push(
      'archive_mode = off  # this target keeps no WAL archive and no backups: nothing protects the data beyond this disk',
    );
  }
  return lines.join('\n') + '\n';
}

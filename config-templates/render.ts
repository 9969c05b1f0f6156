// render(settings) → the real files. Non-secret only: userlist.txt is rendered separately (renderUserlist)
// because its SCRAM verifiers depend on passwords that only the host or the local stack knows.
import { renderSystemdLimits, renderSysctl } from './render-os';
import { renderPgHba } from './render-pg-hba';
import { renderPgBouncerIni } from './render-pgbouncer';
import { renderPostgresqlConf } from './render-postgresql';
import { type RenderOptions, type RenderedFile, withDefaults } from './render-options';
import type { Settings } from './settings';

export function render(settings: Settings, options: Partial<RenderOptions> = {}): RenderedFile[] {
  const o = withDefaults(options);
  const os = settings.os;
  return [
    {
      path: 'postgresql/postgresql.conf',
      installPath: '/etc/postgresql/16/main/conf.d/90-powerhouse.conf',
      content: renderPostgresqlConf(settings, o),
      mode: '0644',
    },
    {
      path: 'postgresql/pg_hba.conf',
      installPath: '/etc/postgresql/16/main/pg_hba.conf',
      content: renderPgHba(o),
      mode: '0640',
    },
    {
      path: 'pgbouncer/pgbouncer.ini',
      installPath: '/etc/pgbouncer/pgbouncer.ini',
      content: renderPgBouncerIni(settings, o),
      mode: '0640',
    },
    {
      path: 'systemd/postgresql@16-main.service.d/90-powerhouse.conf',
      installPath: '/etc/systemd/system/postgresql@16-main.service.d/90-powerhouse.conf',
      content: renderSystemdLimits(
        'postgresql@16-main',
        os.postgresLimitNofile.value,
        os.postgresLimitNofile.reason,
      ),
      mode: '0644',
    },
    {
      path: 'systemd/pgbouncer.service.d/90-powerhouse.conf',
      installPath: '/etc/systemd/system/pgbouncer.service.d/90-powerhouse.conf',
      content: renderSystemdLimits(
        'pgbouncer',
        os.pgbouncerLimitNofile.value,
        os.pgbouncerLimitNofile.reason,
      ),
      mode: '0644',
    },
    {
      path: 'sysctl/60-powerhouse.conf',
      installPath: '/etc/sysctl.d/60-powerhouse.conf',
      content: renderSysctl(settings),
      mode: '0644',
    },
  ];
}

export function renderedFile(files: readonly RenderedFile[], path: string): RenderedFile {
  const f = files.find((x) => x.path === path);
  if (!f) throw new Error(`no rendered file ${path}`);
  return f;
}

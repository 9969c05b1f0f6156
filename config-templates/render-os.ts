import type { Settings } from './settings';

export function renderSysctl(s: Settings): string {
  const lines = [`# Kernel settings rendered by db-powerhouse for tier "${s.tier.name}".`];
  for (const [name, v] of Object.entries(s.os.sysctl)) lines.push(`# ${v.reason}`, `${name} = ${v.value}`);
  return lines.join('\n') + '\n';
}

export function renderSystemdLimits(service: string, nofile: number, reason: string): string {
  return (
    [`# ${service}: rendered by db-powerhouse. ${reason}`, '[Service]', `LimitNOFILE=${nofile}`].join('\n') +
    '\n'
  );
}

// Backups on a Hetzner host: pgBackRest's config (the tier's), the backup commands' profile, the systemd timers
// that take the scheduled backups and run the status probe the worker reads, and powerhouse-backup-setup, which
// Terraform runs on every apply once the host's `powerhouse` is installed. The repository's own file comes from
// the stack's backup_s3_* variables (hetzner-stack.ts); without it the host says so at apply and in /readyz.
import type { Deployment } from './deployment';
import type { HostFile } from './cloud-init';
import { BACKUP_STANZA } from '../config-templates';
import { HOST } from './host-files';

const UNIT_DIR = '/etc/systemd/system';
export const BACKUP_UNITS = {
  backup: 'powerhouse-backup@.service',
  fullTimer: 'powerhouse-backup-full.timer',
  diffTimer: 'powerhouse-backup-diff.timer',
  status: 'powerhouse-backup-status.service',
  statusTimer: 'powerhouse-backup-status.timer',
} as const;

/** The banner apply prints, and the reason /readyz gives, when no repository is configured. */
export const NO_REPOSITORY_WARNING =
  'NO BACKUPS: no backup repository is configured (backup_s3_bucket is unset), so WAL is not archived and nothing ' +
  "protects the data beyond this server's disk. Create a bucket in Hetzner Object Storage, set backup_s3_bucket, " +
  'backup_s3_access_key and backup_s3_secret_key, and apply again.';

function units(d: Deployment): HostFile[] {
  const b = d.settings.backup;
  const backupService = `# db-powerhouse (stacks/host-backup.ts): one backup of type %i (full, diff, incr).
[Unit]
Description=db-powerhouse %i backup (pgBackRest)
After=postgresql@16-main.service
ConditionPathExists=${HOST.repositoryConf}

[Service]
Type=oneshot
User=postgres
Group=postgres
ExecStart=${HOST.cliBin} backup --type %i --quiet
# Uploads keep the CPU and the disk first.
Nice=10
IOSchedulingClass=best-effort
IOSchedulingPriority=7
`;
  const timer = (type: string, calendar: string, reason: string) => `# db-powerhouse: ${reason}
[Unit]
Description=db-powerhouse ${type} backup schedule

[Timer]
OnCalendar=${calendar}
# A backup missed while the server was off runs at the next boot.
Persistent=true
RandomizedDelaySec=10min
Unit=powerhouse-backup@${type}.service

[Install]
WantedBy=timers.target
`;
  const status = `# db-powerhouse: the repository's health for the worker's /readyz (stacks/host-backup.ts).
[Unit]
Description=db-powerhouse backup status probe
After=postgresql@16-main.service

[Service]
Type=oneshot
User=postgres
Group=postgres
ExecStart=${HOST.cliBin} backup-status --write
`;
  const statusTimer = `# db-powerhouse: ${b.statusIntervalSeconds.reason}
[Unit]
Description=db-powerhouse backup status probe, every ${b.statusIntervalSeconds.value} s

[Timer]
OnBootSec=30s
OnUnitActiveSec=${b.statusIntervalSeconds.value}s
AccuracySec=1s

[Install]
WantedBy=timers.target
`;
  return [
    { path: `${UNIT_DIR}/${BACKUP_UNITS.backup}`, mode: '0644', content: backupService },
    {
      path: `${UNIT_DIR}/${BACKUP_UNITS.fullTimer}`,
      mode: '0644',
      content: timer('full', b.fullSchedule.value, b.fullSchedule.reason),
    },
    {
      path: `${UNIT_DIR}/${BACKUP_UNITS.diffTimer}`,
      mode: '0644',
      content: timer('diff', b.diffSchedule.value, b.diffSchedule.reason),
    },
    { path: `${UNIT_DIR}/${BACKUP_UNITS.status}`, mode: '0644', content: status },
    { path: `${UNIT_DIR}/${BACKUP_UNITS.statusTimer}`, mode: '0644', content: statusTimer },
  ];
}

/**
 * `powerhouse-backup-setup`: after the worker and the host's `powerhouse` are installed. With a repository: the
 * stanza (idempotent), a check that WAL reaches it, the timers, and a first full backup when there is none (in the
 * background: apply does not wait for it). Without one: the timers that would fail are off, the probe stays on so
 * /readyz says so, and apply prints the warning.
 */
export function backupSetupScript(): string {
  const pb = `runuser -u postgres -- pgbackrest --stanza=${BACKUP_STANZA}`;
  return `#!/bin/bash
# powerhouse-backup-setup (stacks/host-backup.ts): run by Terraform on every apply, after the worker is installed.
set -euo pipefail
systemctl daemon-reload
systemctl enable --now ${BACKUP_UNITS.statusTimer}
if [ ! -s ${HOST.repositoryConf} ]; then
  systemctl disable --now ${BACKUP_UNITS.fullTimer} ${BACKUP_UNITS.diffTimer} 2>/dev/null || true
  systemctl start ${BACKUP_UNITS.status} || true
  printf '\\n%s\\n%s\\n%s\\n\\n' '******************************************************************' ${JSON.stringify(NO_REPOSITORY_WARNING)} '******************************************************************' >&2
  exit 0
fi
# stanza-create only when the repository has none (code 1): it takes the archive lock archive-push holds.
info=$(${pb} info --output=json)
if grep -q '"status":{"code":1' <<<"$info"; then ${pb} stanza-create; info=$(${pb} info --output=json); fi
${pb} check
systemctl enable --now ${BACKUP_UNITS.fullTimer} ${BACKUP_UNITS.diffTimer}
systemctl start ${BACKUP_UNITS.status} || true
if ! grep -q '"label"' <<<"$info"; then
  echo "powerhouse-backup-setup: no backup yet: the first full backup runs now in the background (powerhouse backups shows it)"
  systemctl start --no-block powerhouse-backup@full.service
fi
echo "powerhouse-backup-setup: WAL is archived to $(sed -n 's/^repo1-type=//p' ${HOST.repositoryConf}) repository; $(${HOST.cliBin} backups | tail -n 1)"
`;
}

/** The host's backup files, written by powerhouse-apply on every apply. */
export function backupHostFiles(d: Deployment): HostFile[] {
  if (!d.backup) return [];
  return [
    { path: HOST.pgbackrestConf, mode: '0644', content: d.backup.conf },
    { path: HOST.backupProfile, mode: '0644', content: JSON.stringify(d.backup.profile, null, 2) + '\n' },
    { path: HOST.backupSetup, mode: '0755', content: backupSetupScript() },
    {
      path: HOST.cliBin,
      mode: '0755',
      content: `#!/bin/sh\n# db-powerhouse host operations (cli/host-main.ts): backups and restores.\nexec /usr/bin/node ${HOST.cliJs} "$@"\n`,
    },
    ...units(d),
  ];
}

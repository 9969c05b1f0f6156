import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { generateSecret, SECRET_ENV, type Settings, tune } from '../../config-templates';
import { dbSetupFiles, dbSetupSecrets } from '../../stacks/database-setup';
import { describeDeployment } from '../../stacks/deployment';
import { HOST, hetznerTarget, tlsCertScript } from '../../stacks/host-files';
import { addTierOptions, tierFromFlags, type TierFlags } from '../tier-options';

/** The role passwords the setup reads: from their SECRET_ENV variables, or freshly generated. */
export function setupPasswords(settings: Settings, env = process.env): Record<string, string> {
  return Object.fromEntries(
    dbSetupSecrets(settings).map((n) => [SECRET_ENV[n], env[SECRET_ENV[n]] || generateSecret()]),
  );
}

/** docker-compose.yml from the same description as `cdktf deploy local`; .env is written only once. */
function writeCompose(settings: Settings, out: string): void {
  const { composeEnvFile, composeFiles } =
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('../../stacks/compose') as typeof import('../../stacks/compose');
  const files = composeFiles(settings, { buildContext: path.resolve(__dirname, '../..') });
  const env = composeEnvFile();
  const envPath = path.join(out, env.path);
  // New secrets would not match a database that already exists: keep the first .env.
  const toWrite = fs.existsSync(envPath) ? files : [...files, env];
  for (const f of toWrite) {
    const target = path.join(out, f.path);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, f.content, { mode: parseInt(f.mode, 8) });
    fs.chmodSync(target, parseInt(f.mode, 8));
    process.stdout.write(`wrote ${target}\n`);
  }
  if (toWrite.length === files.length)
    process.stdout.write(`kept ${envPath} (secrets of the existing database)\n`);
  process.stdout.write(`\nstart: cd ${out} && docker compose up -d --wait\n`);
}

export function renderCommand(): Command {
  const cmd = new Command('render').description(
    'write postgresql.conf, pg_hba.conf, pgbouncer.ini, the role setup (roles.sql + db-setup script), systemd drop-ins and sysctl for a tier',
  );
  addTierOptions(cmd, 'recommended')
    .requiredOption('--out <dir>', 'directory to write into')
    .option('--no-lz4', 'target a PostgreSQL build without lz4 (wal_compression = pglz)')
    .option('--compose', 'write docker-compose.yml (+ the files it mounts and a .env of secrets) instead');
  cmd.action((o: TierFlags & { out: string; lz4: boolean; compose?: boolean }) => {
    const settings = tune(tierFromFlags(o), { lz4: o.lz4 });
    if (o.compose) return writeCompose(settings, o.out);
    // A host's files, as the Hetzner stacks deliver them (PgBouncer requires client TLS, see stacks/README.md).
    const files = describeDeployment(settings, hetznerTarget()).files;
    // The same role bootstrap as the Hetzner host (stacks/database-setup.ts): PostgreSQL computes the SCRAM
    // verifiers and the script exports them into PgBouncer's userlist, so both hold the same ones.
    const passwords = setupPasswords(settings);
    const secretFiles = [
      ...dbSetupFiles(settings, {
        script: 'bin/powerhouse-db-setup',
        rolesSql: 'sql/roles.sql',
        userlistSql: 'sql/userlist.sql',
      }),
      { path: 'bin/powerhouse-tls-cert', content: tlsCertScript(), mode: '0755' },
      {
        path: 'secrets/passwords.env',
        content:
          '# Role passwords for bin/powerhouse-db-setup: set -a; . secrets/passwords.env; set +a\n' +
          Object.entries(passwords)
            .map(([k, v]) => `${k}=${v}`)
            .join('\n') +
          '\n',
        mode: '0600',
      },
    ];
    for (const f of [...files, ...secretFiles]) {
      const target = path.join(o.out, f.path);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, f.content, { mode: parseInt(f.mode, 8) });
      fs.chmodSync(target, parseInt(f.mode, 8));
      process.stdout.write(
        `wrote ${target}${'installPath' in f ? `  (install as ${f.installPath})` : f.mode === '0600' ? '  (secret, 0600)' : ''}\n`,
      );
    }
    process.stdout.write(
      `\nin ${o.out}, as root on the server (PgBouncer requires client TLS with this certificate):\n` +
        `  bin/powerhouse-tls-cert --name pgbouncer ${HOST.pgbouncerTlsDir} postgres <public IP> 127.0.0.1\n` +
        "roles and PgBouncer's userlist (as the postgres user):\n" +
        '  set -a; . secrets/passwords.env; set +a; bin/powerhouse-db-setup /etc/pgbouncer/userlist.txt\n',
    );
  });
  return cmd;
}

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { render, renderUserlist, ROLES, scramVerifier, type Settings, tune } from '../../config-templates';
import { addTierOptions, tierFromFlags, type TierFlags } from '../tier-options';

/** Role → password, from POWERHOUSE_<ROLE>_PASSWORD or freshly generated. */
export function rolePasswords(env = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const role of [ROLES.app, ROLES.ingest, ROLES.bouncerAdmin, ROLES.bouncerStats]) {
    const key = `POWERHOUSE_${role.toUpperCase()}_PASSWORD`;
    out[role] = env[key] ?? randomBytes(24).toString('base64url');
  }
  return out;
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
    'write postgresql.conf, pg_hba.conf, pgbouncer.ini, userlist.txt (SCRAM), systemd drop-ins and sysctl for a tier',
  );
  addTierOptions(cmd, 'recommended')
    .requiredOption('--out <dir>', 'directory to write into')
    .option('--no-lz4', 'target a PostgreSQL build without lz4 (wal_compression = pglz)')
    .option('--compose', 'write docker-compose.yml (+ the files it mounts and a .env of secrets) instead');
  cmd.action((o: TierFlags & { out: string; lz4: boolean; compose?: boolean }) => {
    const settings = tune(tierFromFlags(o), { lz4: o.lz4 });
    if (o.compose) return writeCompose(settings, o.out);
    const files = render(settings);
    const passwords = rolePasswords();
    // PgBouncer and PostgreSQL must hold the same verifier (same salt) for SCRAM pass-through.
    const verifiers = Object.fromEntries(Object.entries(passwords).map(([r, p]) => [r, scramVerifier(p)]));
    const secretFiles = [
      {
        path: 'pgbouncer/userlist.txt',
        content: renderUserlist(Object.entries(verifiers).map(([name, verifier]) => ({ name, verifier }))),
        mode: '0600',
      },
      {
        path: 'secrets/roles.sql',
        content:
          '-- Sets role passwords to the same SCRAM verifiers as userlist.txt (no plaintext).\n' +
          [ROLES.app, ROLES.ingest]
            .map((r) => `ALTER ROLE "${r}" WITH LOGIN PASSWORD '${verifiers[r]}';`)
            .join('\n') +
          '\n',
        mode: '0600',
      },
      {
        path: 'secrets/passwords.env',
        content:
          Object.entries(passwords)
            .map(([r, p]) => `POWERHOUSE_${r.toUpperCase()}_PASSWORD=${p}`)
            .join('\n') + '\n',
        mode: '0600',
      },
    ];
    for (const f of [...files, ...secretFiles]) {
      const target = path.join(o.out, f.path);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, f.content, { mode: parseInt(f.mode, 8) });
      fs.chmodSync(target, parseInt(f.mode, 8));
      process.stdout.write(
        `wrote ${target}${'installPath' in f ? `  (install as ${f.installPath})` : '  (secret, 0600)'}\n`,
      );
    }
  });
  return cmd;
}

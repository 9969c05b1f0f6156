// `powerhouse connect-info`: everything a desktop app needs to reach a deployment, from one place: a deployed
// stack's `connect_info` output (`--stack NAME` runs `terraform output -json` in its cdktf.out directory, or
// `--terraform-output FILE` reads what it printed), a connect-info file, or the local stack of `npm start`.
// Prints it for a person, or writes the JSON file the app loads (--out).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { parseConnectInfo, type ConnectInfo } from '../../config-templates/connect-info';
import { UsageError } from '../usage-error';
import { addEndpointOptions, resolveEndpoint, type EndpointFlags } from '../endpoint-options';
import { writeSecretFile } from './tokens';

interface Flags extends EndpointFlags {
  stack?: string;
  cdktfOut: string;
  terraformOutput?: string;
  withToken?: boolean;
  out?: string;
  json?: boolean;
}

/** connect_info (and, asked for, ingest_token) from `terraform output -json`'s map of outputs. */
export function fromTerraformOutputs(text: string, source: string, withToken: boolean): ConnectInfo {
  let outputs: Record<string, { value?: unknown } | undefined>;
  try {
    outputs = JSON.parse(text) as typeof outputs;
  } catch {
    throw new UsageError(`${source} is not the JSON of \`terraform output -json\``);
  }
  const raw = outputs.connect_info?.value;
  if (raw === undefined)
    throw new UsageError(
      `${source} has no connect_info output (a stack of an older version? run cdktf deploy again)`,
    );
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      throw new UsageError(`${source}: connect_info is not JSON`);
    }
  }
  const info = parseConnectInfo(value, `${source} connect_info`);
  if (withToken) {
    const token = outputs.ingest_token?.value;
    if (typeof token !== 'string' || !token) throw new UsageError(`${source} has no ingest_token output`);
    return { ...info, token, tokenName: 'default' };
  }
  return info;
}

function terraformOutputs(o: Flags): { text: string; source: string } {
  if (o.terraformOutput) {
    try {
      return { text: fs.readFileSync(o.terraformOutput, 'utf8'), source: o.terraformOutput };
    } catch (err) {
      throw new UsageError(`cannot read ${o.terraformOutput}: ${(err as Error).message}`);
    }
  }
  const dir = path.resolve(o.cdktfOut, 'stacks', o.stack!);
  if (!fs.existsSync(dir))
    throw new UsageError(
      `${dir} does not exist: deploy first (cdktf deploy ${o.stack}) from this directory, or pass --cdktf-out`,
    );
  const r = spawnSync('terraform', ['output', '-json'], { cwd: dir, encoding: 'utf8' });
  if (r.error) throw new UsageError(`cannot run terraform: ${r.error.message}`);
  if (r.status !== 0)
    throw new UsageError(
      `terraform output in ${dir} failed: ${r.stderr.trim().split('\n').slice(-1)[0] ?? ''}`,
    );
  return { text: r.stdout, source: `stack ${o.stack}` };
}

function resolve(o: Flags): { info: ConnectInfo; source: string } {
  if (o.stack || o.terraformOutput) {
    const { text, source } = terraformOutputs(o);
    return { info: fromTerraformOutputs(text, source, o.withToken === true), source };
  }
  const e = resolveEndpoint(o);
  if (e.source === 'default')
    throw new UsageError(
      'nothing to describe: start the local stack (npm start), or pass --stack NAME, --terraform-output FILE or --connect-info FILE',
    );
  const info: ConnectInfo = {
    version: 1,
    endpoint: e.url,
    ...(e.ca ? { certificatePem: e.ca } : {}),
    ...(e.fingerprint ? { fingerprintSha256: e.fingerprint } : {}),
    tables: e.tables ?? [],
    ...(o.withToken && e.token ? { token: e.token, tokenName: e.tokenName ?? 'default' } : {}),
  };
  return { info: parseConnectInfo(info, e.source), source: e.source };
}

/** What a person reads: the values, and how the SDK and the CLI use them. */
export function describeConnectInfo(info: ConnectInfo, source: string): string {
  const pin = info.fingerprintSha256
    ? `fingerprint: '${info.fingerprintSha256}'`
    : info.certificatePem
      ? "ca: fs.readFileSync('ingest.crt', 'utf8')"
      : '';
  const cliPin = info.fingerprintSha256 ? ` --fingerprint ${info.fingerprintSha256}` : '';
  const table = info.tables[0] ?? 'TABLE';
  return [
    `from          ${source}`,
    `endpoint      ${info.endpoint}`,
    info.endpoint.startsWith('https:')
      ? `certificate   self-signed; pin SHA-256 ${info.fingerprintSha256 ?? '(see its PEM)'}`
      : 'certificate   none (plain HTTP on this machine only)',
    `tables        ${info.tables.join(', ') || '(none)'}`,
    info.token
      ? `token         "${info.tokenName ?? 'default'}" (in the file written with --out; not printed)`
      : 'token         not included: `powerhouse token add NAME --out NAME.json` makes one per translator',
    '',
    'TypeScript SDK:',
    `  await uploadRows('${info.endpoint}', token, '${table}', rows${pin ? `, { ${pin} }` : ''});`,
    'CLI:',
    `  powerhouse upload FILE --table ${table} --endpoint ${info.endpoint}${cliPin}   (token: $POWERHOUSE_INGEST_TOKEN)`,
    `  powerhouse doctor --endpoint ${info.endpoint}${cliPin}`,
  ].join('\n');
}

export function connectInfoCommand(): Command {
  const cmd = new Command('connect-info')
    .description('what a desktop app needs to reach a deployment: endpoint, pinned certificate, tables')
    .option('--stack <name>', 'a deployed stack: terraform output of cdktf.out/stacks/NAME')
    .option('--cdktf-out <dir>', 'where cdktf wrote the stacks', 'cdktf.out')
    .option('--terraform-output <file>', 'the saved JSON of `terraform output -json` of a stack')
    .option('--with-token', "include the stack's ingest token (or the connect info's) in --out/--json")
    .option('--out <file>', 'write the connect-info JSON the app loads (0600 when it holds a token)')
    .option('--json', 'print the connect-info JSON');
  addEndpointOptions(cmd);
  return cmd.action((o: Flags) => {
    const { info, source } = resolve(o);
    const json = `${JSON.stringify(info, null, 2)}\n`;
    if (o.out) {
      // Never over an existing file, token or not: it may be a translator's only copy of theirs.
      writeSecretFile(o.out, json);
      process.stdout.write(`wrote ${o.out}${info.token ? ' (0600: it holds a token)' : ''}\n`);
      return;
    }
    process.stdout.write(o.json ? json : `${describeConnectInfo(info, source)}\n`);
  });
}

// `powerhouse token add|list|revoke` and `powerhouse uploads`: per-translator tokens and who uploaded what,
// through the worker's admin routes with the admin token. The same commands for the local stack (its data
// dir holds the admin token) and a deployed one (its pinned HTTPS endpoint and $POWERHOUSE_ADMIN_TOKEN): no
// SSH, no restart, and a token made here works at once.
import fs from 'node:fs';
import { Command } from 'commander';
import { CONNECT_INFO_VERSION, type ConnectInfo } from '../../config-templates/connect-info';
import { formatBytes, parseSince } from '../../config-templates/human';
import {
  addToken,
  listTokens,
  listUploads,
  revokeToken,
  whoami,
  type TokenInfo,
} from '../../ingest/client/admin';
import { positiveInteger } from '../flag-values';
import { UsageError } from '../usage-error';
import {
  addEndpointOptions,
  adminToken,
  resolveEndpoint,
  trustOf,
  type Endpoint,
  type EndpointFlags,
} from '../endpoint-options';

const out = (s = ''): void => void process.stdout.write(`${s}\n`);

function admin(o: EndpointFlags): { e: Endpoint; token: string; opts: ReturnType<typeof trustOf> } {
  const e = resolveEndpoint(o);
  return { e, token: adminToken(e), opts: trustOf(e) };
}

/** The connect info a translator's app loads: the endpoint, its pin, the tables and their own token. */
export function translatorConnectInfo(
  e: Endpoint,
  name: string,
  token: string,
  tables: string[],
): ConnectInfo {
  return {
    version: CONNECT_INFO_VERSION,
    endpoint: e.url,
    ...(e.ca && !e.fingerprint ? { certificatePem: e.ca } : {}),
    ...(e.fingerprint ? { fingerprintSha256: e.fingerprint } : {}),
    tables,
    token,
    tokenName: name,
  };
}

/**
 * Creates a file for a token: 0600, never over an existing one (it may hold someone else's token). Opened
 * before the token exists, so a bad path fails before anything is made.
 */
export function createSecretFile(file: string): number {
  try {
    return fs.openSync(file, 'wx', 0o600);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(
      e.code === 'EEXIST'
        ? `${file} exists: choose another --out file (it may hold another token)`
        : `cannot write ${file}: ${e.message}`,
    );
  }
}

export function writeSecretFile(file: string, text: string): void {
  const fd = createSecretFile(file);
  try {
    fs.writeSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
}

const tablesText = (t: TokenInfo['tables']) => (t === '*' ? 'all tables' : t.join(', '));

function addCommand(): Command {
  const cmd = new Command('add')
    .description('make a token for one translator; it is shown once (the worker keeps only its SHA-256)')
    .argument('<name>', 'who it is for, as upload records will name it (A-Z a-z 0-9 _ . : -, up to 64)')
    .option('--tables <a,b>', 'tables it may upload to (default: every allowlisted table)')
    .option('--out <file>', 'also write the connect info with this token for the translator (0600)')
    .option('--json', 'print the answer as JSON (with the token)');
  addEndpointOptions(cmd);
  return cmd.action(
    async (name: string, o: EndpointFlags & { tables?: string; out?: string; json?: boolean }) => {
      const { e, token, opts } = admin(o);
      const tables = o.tables
        ? o.tables
            .split(',')
            .map((t) => t.trim())
            .filter(Boolean)
        : '*';
      const fd = o.out === undefined ? undefined : createSecretFile(o.out);
      let made;
      try {
        made = await addToken(e.url, token, name, tables, opts);
      } catch (err) {
        if (fd !== undefined) {
          fs.closeSync(fd);
          fs.rmSync(o.out!, { force: true });
        }
        throw err;
      }
      if (fd !== undefined) {
        // The token exists now: whatever happens to the file, it is printed below (it cannot be shown again).
        try {
          const allowed = made.tables === '*' ? (e.tables ?? (await allTables(e, made.token))) : made.tables;
          fs.writeSync(
            fd,
            `${JSON.stringify(translatorConnectInfo(e, name, made.token, allowed), null, 2)}\n`,
          );
        } catch (err) {
          process.stderr.write(`powerhouse token add: could not write ${o.out}: ${(err as Error).message}\n`);
          fs.closeSync(fd);
          fs.rmSync(o.out!, { force: true });
          o.out = undefined;
        }
        if (o.out !== undefined) fs.closeSync(fd);
      }
      if (o.json) return out(JSON.stringify(made));
      out(`token "${made.name}" added (${tablesText(made.tables)}); it works now, no restart.`);
      out(`  ${made.token}`);
      out('  Shown this once: the endpoint keeps only its SHA-256. Give it to the translator privately.');
      if (o.out) out(`  connect info for the app: ${o.out} (0600, holds the token)`);
    },
  );
}

/** The tables a token may write, asked of the endpoint with that token. */
async function allTables(e: Endpoint, token: string): Promise<string[]> {
  return (await whoami(e.url, token, trustOf(e))).tables;
}

function listCommand(): Command {
  const cmd = new Command('list')
    .description('every token: name, tables, uploads, last upload, revoked')
    .option('--json', 'as JSON');
  addEndpointOptions(cmd);
  return cmd.action(async (o: EndpointFlags & { json?: boolean }) => {
    const { e, token, opts } = admin(o);
    const tokens = await listTokens(e.url, token, opts);
    if (o.json) return out(JSON.stringify(tokens));
    const rows = tokens.map((t) => [
      t.name,
      t.revokedAt ? `revoked ${t.revokedAt}` : 'active',
      tablesText(t.tables),
      String(t.uploads),
      t.lastUploadAt ?? '-',
      t.source === 'config' ? 'config' : (t.createdAt ?? ''),
    ]);
    printTable(['NAME', 'STATE', 'TABLES', 'UPLOADS', 'LAST UPLOAD', 'CREATED'], rows);
  });
}

function revokeCommand(): Command {
  const cmd = new Command('revoke')
    .description('revoke a token at once: its next request gets 401 (uploads already running finish)')
    .argument('<name>', 'the token name');
  addEndpointOptions(cmd);
  return cmd.action(async (name: string, o: EndpointFlags) => {
    const { e, token, opts } = admin(o);
    const r = await revokeToken(e.url, token, name, opts);
    out(`token "${r.name}" revoked at ${r.revokedAt}; its requests are refused from now on (401).`);
  });
}

function printTable(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  out(line(head));
  for (const r of rows) out(line(r));
  if (!rows.length) out('(none)');
}

export function tokenCommand(): Command {
  return new Command('token')
    .description(
      'per-translator upload tokens: add, list, revoke (admin token; local stack or deployed endpoint)',
    )
    .addCommand(addCommand())
    .addCommand(listCommand())
    .addCommand(revokeCommand());
}

export function uploadsCommand(): Command {
  const cmd = new Command('uploads')
    .description('upload records, newest first: which token uploaded what, when, and how it ended')
    .option('--token <name>', 'only this token (its name)')
    .option('--table <name>', 'only this table')
    .option('--since <when>', 'only since: 90s, 30m, 1h, 7d, or an ISO time with zone')
    .option('--status <status>', 'committed or failed')
    .option('--limit <n>', 'at most this many (1-1000)', '100')
    .option('--json', 'as JSON');
  addEndpointOptions(cmd);
  return cmd.action(
    async (
      o: EndpointFlags & {
        token?: string;
        table?: string;
        since?: string;
        status?: string;
        limit: string;
        json?: boolean;
      },
    ) => {
      if (o.since !== undefined && !parseSince(o.since))
        throw new UsageError(
          `--since must be a duration (90s, 30m, 1h, 7d) or an ISO time with zone, got "${o.since}"`,
        );
      if (o.status !== undefined && o.status !== 'committed' && o.status !== 'failed')
        throw new UsageError(`--status must be committed or failed, got "${o.status}"`);
      const { e, token, opts } = admin(o);
      const uploads = await listUploads(
        e.url,
        token,
        {
          token: o.token,
          table: o.table,
          since: o.since,
          status: o.status as 'committed' | 'failed' | undefined,
          limit: positiveInteger('limit', o.limit),
        },
        opts,
      );
      if (o.json) return out(JSON.stringify(uploads));
      printTable(
        ['FINISHED', 'TOKEN', 'TABLE', 'STATUS', 'ROWS', 'SIZE', 'TIME', 'UPLOAD ID'],
        uploads.map((u) => [
          u.finishedAt,
          u.token,
          u.table,
          u.status === 'failed' ? `failed: ${String(u.error?.error ?? '')}` : u.status,
          String(u.rows),
          formatBytes(u.bytes),
          `${(u.durationMs / 1000).toFixed(1)} s`,
          u.uploadId,
        ]),
      );
    },
  );
}

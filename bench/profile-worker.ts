// `--profile`: the same uploads against a second worker started with node --cpu-prof (same config file,
// its own port), one worker process per scenario, and the functions that took its CPU time. Profiling
// slows the worker, so these runs are never the ones whose throughput is reported.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../stacks/local-processes/free-port';
import type { BenchContext } from './bench-context';
import { mainThreadCpuProfile, readCpuProfile, summarizeCpuProfile } from './cpu-profile';
import { uploadFile } from './http-upload';
import type { ProfileSummary } from './report-types';
import type { RowFileSet } from './row-files';
import type { RowFormat } from './row-encoders';
import { TABLE } from './scenario-endpoint';
import { releaseIngestConnections, resetTable } from './bench-context';
import { TM_COLUMNS } from '../ingest/client/tm-rows';

export interface ProfileInput {
  workDir: string;
  outDir: string;
  singleFiles: RowFileSet;
  /** Single-upload formats to profile, one worker process each. */
  singleFormats: readonly RowFormat[];
  userFiles: readonly RowFileSet[];
  users: number;
  format: RowFormat;
  runId: string;
}

const ROOT = path.resolve(__dirname, '..');

async function startProfiledWorker(
  configFile: string,
  profDir: string,
  logFile: string,
): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  fs.mkdirSync(profDir, { recursive: true });
  const out = fs.openSync(logFile, 'a', 0o600);
  const child = spawn(
    process.execPath,
    [
      '--cpu-prof',
      `--cpu-prof-dir=${profDir}`,
      '--import',
      'tsx',
      path.join(ROOT, 'ingest/main.ts'),
      configFile,
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', out, out],
      env: {
        ...process.env,
        POWERHOUSE_INGEST_PORT: String(port),
        POWERHOUSE_INGEST_TOKEN: '',
        POWERHOUSE_ADMIN_TOKEN: '',
      },
    },
  );
  fs.closeSync(out);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`profiled worker exited with code ${child.exitCode}; see ${logFile}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { url, child };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`profiled worker did not answer /healthz within 30 s; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM: the worker shuts down gracefully and exits, which is when node writes the profile. */
function stopWorker(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export async function profileWorker(ctx: BenchContext, input: ProfileInput): Promise<ProfileSummary[]> {
  const configFile = path.join(ctx.stack.dataDir, 'ingest.json');
  if (!fs.existsSync(configFile))
    throw new Error(`no worker config at ${configFile} (the stack's worker must run as a child)`);
  const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
  const profRoot = path.join(input.outDir, 'profiles');
  const scenarios: { id: string; label: string; run: (url: string) => Promise<void> }[] = [];
  for (const format of input.singleFormats) {
    const file = input.singleFiles[format];
    if (!file) continue;
    scenarios.push({
      id: `single-${format}`,
      label: `one ${format} upload of ${file.rows.toLocaleString('en')} rows`,
      run: async (url) => {
        const r = await uploadFile({
          baseUrl: url,
          token: ctx.stack.token,
          table: TABLE,
          format,
          file: file.path,
          columns: TM_COLUMNS,
          idempotencyKey: `bench-${input.runId}-prof-${format}`,
        });
        if (!r.ok) throw new Error(`profiled ${format} upload failed: ${r.error}`);
      },
    });
  }
  const files = input.userFiles.slice(0, input.users).map((f) => f[input.format]);
  if (files.length === input.users && files.every(Boolean)) {
    scenarios.push({
      id: `concurrent-${input.users}`,
      label: `${input.users} concurrent ${input.format} uploads of ${files[0]!.rows.toLocaleString('en')} rows`,
      run: async (url) => {
        const rs = await Promise.all(
          files.map((f, i) =>
            uploadFile({
              baseUrl: url,
              token: ctx.stack.tokens[i],
              table: TABLE,
              format: input.format,
              file: f!.path,
              columns: TM_COLUMNS,
              idempotencyKey: `bench-${input.runId}-prof-n-${i}`,
            }),
          ),
        );
        const bad = rs.filter((r) => !r.ok);
        if (bad.length) throw new Error(`${bad.length} profiled uploads failed: ${bad[0].error}`);
      },
    });
  }
  const out: ProfileSummary[] = [];
  for (const s of scenarios) {
    const dir = path.join(profRoot, `${stamp}-${s.id}`);
    await releaseIngestConnections(ctx); // cold start, whatever --warm says: the warm-up would reach the other worker
    await resetTable(ctx, `public.${TABLE}`);
    ctx.log(`profiling the worker: ${s.label}`);
    const w = await startProfiledWorker(configFile, dir, path.join(input.workDir, `profile-${s.id}.log`));
    try {
      await s.run(w.url);
    } finally {
      await stopWorker(w.child);
    }
    const file = mainThreadCpuProfile(dir);
    if (!file) throw new Error(`the profiled worker wrote no .cpuprofile into ${dir}`);
    const summary = summarizeCpuProfile(readCpuProfile(file), 15, ROOT);
    out.push({
      scenario: s.label,
      totalMs: summary.totalMs,
      busyMs: summary.busyMs,
      top: summary.top,
      file: path.relative(ROOT, file),
    });
  }
  return out;
}

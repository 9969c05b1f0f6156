// `powerhouse up` (what `npm start` runs) as a child process, the way a person meets it: start it, wait for
// its banner, read the fields it prints. Shared by the CLI tests.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');

export interface Up {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

export interface UpOptions {
  dataDir: string;
  env?: Record<string, string>;
  /** After --data-dir, --port 0, the bouncer port args and --users 4. */
  args?: string[];
  /** Default: a free PgBouncer port. [] leaves the choice to `up`. */
  bouncerPortArgs?: string[];
  /** 'bin': bin/powerhouse.js, what npx runs (default). 'tsx': node --import tsx cli/main.ts. */
  launcher?: 'bin' | 'tsx';
  /**
   * Its own process group, as a terminal's foreground job has: signalling -pid then reaches every process
   * in that group, the way Ctrl-C does.
   */
  detached?: boolean;
  /** Called right after spawn (register the pid for clean-up before anything can fail). */
  onSpawn?: (child: ChildProcess) => void;
}

export async function up(opts: UpOptions): Promise<Up> {
  const entry =
    opts.launcher === 'tsx' ? ['--import', 'tsx', 'cli/main.ts'] : [path.join(root, 'bin/powerhouse.js')];
  const child = spawn(
    process.execPath,
    [
      ...entry,
      'up',
      '--data-dir',
      opts.dataDir,
      '--port',
      '0',
      ...(opts.bouncerPortArgs ?? ['--bouncer-port', '0']),
      '--users',
      '4',
      ...(opts.args ?? []),
    ],
    {
      cwd: root,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: opts.detached ?? false,
    },
  );
  opts.onSpawn?.(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!out.includes('Ctrl-C stops everything')) {
    if (child.exitCode !== null) throw new Error(`powerhouse up exited early:\n${out}`);
    if (Date.now() > deadline) throw new Error(`powerhouse up did not get ready:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, output: () => out, exited };
}

/** The value printed after `label` at the start of a banner line. */
export const field = (out: string, label: string) =>
  new RegExp(`^${label}\\s+(\\S+)`, 'm').exec(out)?.[1] ?? '';

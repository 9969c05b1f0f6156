// Reads a V8 .cpuprofile (node --cpu-prof) and ranks functions by self time: where the worker's CPU went.
import fs from 'node:fs';
import path from 'node:path';
import type { ProfileEntry } from './report-types';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/**
 * Self time per function (µs deltas attributed to the sampled node), top `limit` by self time, with each
 * one's share of the busy time ((idle) is left out: a worker waiting for the database is not the bottleneck).
 */
export function summarizeCpuProfile(
  profile: CpuProfile,
  limit = 15,
  root = process.cwd(),
): { totalMs: number; busyMs: number; top: ProfileEntry[] } {
  const byNode = new Map<number, CpuProfileNode>(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time since the previous sample: it belongs to sample i.
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, deltas[i] ?? 0));
  }
  const byFunction = new Map<string, { fn: string; loc: string; us: number }>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const node = byNode.get(id);
    if (!node) continue;
    total += us;
    const { functionName, url, lineNumber } = node.callFrame;
    const fn = functionName || '(anonymous)';
    let file = url.replace(/^file:\/\//, '');
    if (file.startsWith(root)) file = path.relative(root, file);
    const loc = file ? `${file}:${lineNumber + 1}` : '';
    const key = `${fn}@${loc}`;
    const entry = byFunction.get(key) ?? { fn, loc, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
  }
  const idle = [...byFunction.values()].filter((e) => e.fn === '(idle)').reduce((a, e) => a + e.us, 0);
  const busy = total - idle;
  const top = [...byFunction.values()]
    .filter((e) => e.fn !== '(idle)')
    .sort((a, b) => b.us - a.us)
    .slice(0, limit)
    .map((e) => ({
      function: e.fn,
      location: e.loc,
      selfMs: Math.round(e.us / 1000),
      share: busy ? Math.round((e.us / busy) * 1000) / 1000 : 0,
    }));
  return { totalMs: Math.round(total / 1000), busyMs: Math.round(busy / 1000), top };
}

export function readCpuProfile(file: string): CpuProfile {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
}

/**
 * The main thread's .cpuprofile in `dir`. Node writes one file per thread, named
 * CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; thread 0 is the main thread (tsx's module loader runs
 * in another). Falls back to the largest file.
 */
export function mainThreadCpuProfile(dir: string): string | null {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const main = files.find((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f));
  if (main) return path.join(dir, main);
  const bySize = files
    .map((f) => path.join(dir, f))
    .sort((a, b) => fs.statSync(b).size - fs.statSync(a).size);
  return bySize[0] ?? null;
}

// The machine a report was measured on: a number means little without the cores, RAM, disk and versions
// next to it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface DiskInfo {
  /** Mount point holding the benchmark's data directory. */
  mount: string;
  device: string;
  fsType: string;
  sizeGiB: number;
  /** /sys/block/<dev>/queue/rotational; virtual disks often claim 1 whatever backs them. */
  rotational: boolean | null;
  /** Median time of an 8 KiB write + fdatasync, in ms: the floor under every COMMIT. */
  fdatasyncMs: number;
}

export interface MachineInfo {
  host: string;
  cpuModel: string;
  cores: number;
  ramGiB: number;
  kernel: string;
  node: string;
  postgres: string;
  pgbouncer: string;
  psql: string;
  disk: DiskInfo;
  /** 1-minute load average when the run started: other work on the machine skews every number. */
  loadAvgAtStart: number;
  /** Scheduling niceness of the benchmark (inherited by the servers it starts): < 0 favours it over other work. */
  niceness: number;
}

function firstLine(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')[0]
      .trim();
  } catch {
    return 'unknown';
  }
}

function mountOf(dir: string): { mount: string; device: string; fsType: string } {
  const abs = fs.realpathSync(dir);
  let best = { mount: '/', device: 'unknown', fsType: 'unknown' };
  for (const line of fs.readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const [device, mount, fsType] = line.split(' ');
    if (!mount) continue;
    const inside = abs === mount || abs.startsWith(mount.endsWith('/') ? mount : `${mount}/`);
    if (inside && mount.length >= best.mount.length) best = { mount, device, fsType };
  }
  return best;
}

function rotational(device: string): boolean | null {
  const name = path.basename(device).replace(/p?\d+$/, '');
  try {
    return fs.readFileSync(`/sys/block/${name}/queue/rotational`, 'utf8').trim() === '1';
  } catch {
    return null;
  }
}

/** Median of `n` 8 KiB write+fdatasync pairs in a scratch file under `dir`. */
export function measureFdatasyncMs(dir: string, n = 100): number {
  const file = path.join(dir, `.fsync-probe-${process.pid}`);
  const buf = Buffer.alloc(8192, 1);
  const fd = fs.openSync(file, 'w');
  const times: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      fs.writeSync(fd, buf, 0, buf.length, 0);
      fs.fdatasyncSync(fd);
      times.push(performance.now() - t0);
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
  times.sort((a, b) => a - b);
  return Math.round(times[Math.floor(n / 2)] * 1000) / 1000;
}

export function describeMachine(
  dataDir: string,
  versions: { postgres: string; pgbouncer: string },
): MachineInfo {
  const m = mountOf(dataDir);
  const st = fs.statfsSync(dataDir);
  return {
    host: os.hostname(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    ramGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    postgres: versions.postgres,
    pgbouncer: versions.pgbouncer,
    psql: firstLine('psql', ['--version']),
    disk: {
      ...m,
      sizeGiB: Math.round((st.blocks * st.bsize) / 1024 ** 3),
      rotational: rotational(m.device),
      fdatasyncMs: measureFdatasyncMs(dataDir),
    },
    loadAvgAtStart: Math.round(os.loadavg()[0] * 100) / 100,
    niceness: os.getPriority(),
  };
}

/** `PgBouncer 1.18.0` from the binary's --version. */
export function pgbouncerVersion(binary: string | null): string {
  return binary ? firstLine(binary, ['--version']) : 'not installed';
}

// 1M rows through the SDK, and client memory that stays flat: a child process (plain node, as a desktop app
// runs it) uploads 100k and then 1M rows with uploadRows (generator -> local binary COPY encoding -> spool
// file + streamed request) and reports its peak RSS (VmHWM). PostgreSQL must hold exactly those rows, once
// each; ten times the rows must not mean more memory: the body is never held whole, a chunk or two at most.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { startClientStack, tmCounts, type ClientStack } from './client-stack';

jest.setTimeout(180_000);

let s: ClientStack;

beforeAll(async () => {
  s = await startClientStack('child');
});

afterAll(async () => {
  await s?.stop();
});

interface RssReport {
  rows: number;
  bytes: number;
  ms: number;
  startHwmKiB: number;
  peakHwmKiB: number;
}

async function uploadInChild(rows: number): Promise<RssReport> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, 'rss-upload-child.ts')],
    {
      env: { ...process.env, RSS_URL: s.url, RSS_TOKEN: s.token, RSS_ROWS: String(rows) },
      cwd: path.join(__dirname, '../..'),
      maxBuffer: 1 << 20,
    },
  );
  return JSON.parse(stdout.trim().split('\n').pop()!) as RssReport;
}

test('1M rows through the SDK: exactly 1M stored, none twice; peak RSS within 60 MB of a 100k-row upload', async () => {
  await s.sql('TRUNCATE tm_entries');
  const small = await uploadInChild(100_000);
  expect(small.rows).toBe(100_000);
  expect(await tmCounts(s)).toEqual({ rows: 100_000, distinct: 100_000 });
  const large = await uploadInChild(1_000_000);
  expect(large.rows).toBe(1_000_000);
  expect(await tmCounts(s)).toEqual({ rows: 1_100_000, distinct: 1_100_000 });
  const mib = (kib: number) => (kib / 1024).toFixed(1);
  console.log(
    `SDK upload of 1M rows: ${(large.ms / 1000).toFixed(2)} s (${Math.round(1e6 / (large.ms / 1000))} rows/s, ` +
      `${(large.bytes / 1024 ** 2).toFixed(0)} MiB pgcopy body); client peak RSS (VmHWM): ` +
      `100k rows ${mib(small.peakHwmKiB)} MiB, 1M rows ${mib(large.peakHwmKiB)} MiB ` +
      `(after start-up ${mib(small.startHwmKiB)} / ${mib(large.startHwmKiB)} MiB)`,
  );
  // The 1M body alone is ~230 MB: holding it (or its rows) would be far above this bound.
  expect(large.peakHwmKiB).toBeLessThan(small.peakHwmKiB + 60 * 1024);
});

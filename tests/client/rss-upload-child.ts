// Child process of million-rows.test.ts: uploads N generated rows with uploadRows (a generator, so the body is
// spooled while sent) and prints its peak RSS. Endpoint and token come from the environment.
import fs from 'node:fs';
import { uploadRows } from '../../ingest/client';
import { TM_COLUMNS, uniqueTmRows } from './test-rows';

function statusKiB(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error(`no ${field} in /proc/self/status`);
  return Number(m[1]);
}

async function main(): Promise<void> {
  const rows = Number(process.env.RSS_ROWS);
  const startKiB = statusKiB('VmHWM');
  const t0 = performance.now();
  const result = await uploadRows(
    process.env.RSS_URL!,
    process.env.RSS_TOKEN!,
    'tm_entries',
    uniqueTmRows(rows, rows),
    {
      columns: TM_COLUMNS,
    },
  );
  const ms = performance.now() - t0;
  process.stdout.write(
    JSON.stringify({
      rows: result.rows,
      bytes: result.bytes,
      ms,
      startHwmKiB: startKiB,
      peakHwmKiB: statusKiB('VmHWM'),
    }) + '\n',
  );
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

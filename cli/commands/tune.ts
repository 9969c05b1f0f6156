import { Command, Option } from 'commander';
import { pgValue, type Settings, tune } from '../../config-templates';
import { pgtune, pgtuneText } from '../../config-templates/pgtune';
import { counted } from '../../config-templates/plural';
import { addTierOptions, tierFromFlags, type TierFlags } from '../tier-options';

type Format = 'conf' | 'json' | 'table';

/** Settings as flat rows: section, name, value as it is rendered, reason. */
export function settingRows(s: Settings): [string, string, string, string][] {
  const rows: [string, string, string, string][] = [];
  for (const [k, p] of Object.entries(s.postgres)) rows.push(['postgres', k, pgValue(p), p.reason]);
  for (const pool of [s.pgbouncer.app, s.pgbouncer.ingest]) {
    rows.push(['pgbouncer', `${pool.name}.pool_size`, String(pool.poolSize.value), pool.poolSize.reason]);
    rows.push([
      'pgbouncer',
      `${pool.name}.reserve_pool`,
      String(pool.reservePool.value),
      pool.reservePool.reason,
    ]);
  }
  for (const [k, v] of Object.entries(s.pgbouncer.global))
    rows.push(['pgbouncer', k, String(v.value), v.reason]);
  for (const [k, v] of Object.entries(s.ingest)) rows.push(['ingest', k, String(v.value), v.reason]);
  for (const [k, v] of Object.entries(s.os.sysctl)) rows.push(['os', k, String(v.value), v.reason]);
  rows.push([
    'os',
    'pgbouncer LimitNOFILE',
    String(s.os.pgbouncerLimitNofile.value),
    s.os.pgbouncerLimitNofile.reason,
  ]);
  return rows;
}

/** PGTune's value for a postgres setting as PGTune prints it, or '' where PGTune prints no line. */
function pgtuneColumn(s: Settings): (section: string, name: string) => string {
  const ref = pgtune(s.tier.hardware, Number(s.postgres.max_connections.value));
  return (section, name) => (section === 'postgres' ? pgtuneText(ref, name) : '');
}

/** JSON for scripts: every value with its reason, memory values in PostgreSQL syntax (8GB). */
export function settingsJson(s: Settings): object {
  const section = (o: Record<string, { value: unknown; reason: string }>, fmt = (v: unknown) => v) =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, { value: fmt(v), reason: v.reason }]));
  return {
    tier: s.tier,
    postgres: Object.fromEntries(
      Object.entries(s.postgres).map(([k, p]) => [
        k,
        { value: p.unit ? pgValue(p) : p.value, reason: p.reason },
      ]),
    ),
    pgbouncer: {
      app: s.pgbouncer.app,
      ingest: s.pgbouncer.ingest,
      global: section(s.pgbouncer.global, (v) => (v as { value: unknown }).value),
      fdNeed: s.pgbouncer.fdNeed,
    },
    ingest: section(s.ingest as never, (v) => (v as { value: unknown }).value),
    os: s.os,
    memory: s.memory,
  };
}

export function formatTable(rows: string[][], header: string[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}

export function tuneCommand(): Command {
  const cmd = new Command('tune').description(
    'print tuned PostgreSQL 16, PgBouncer, ingest and OS settings with reasons',
  );
  addTierOptions(cmd, 'recommended')
    .addOption(
      new Option('--format <format>', 'output format').choices(['conf', 'json', 'table']).default('table'),
    )
    .option('--compare-pgtune', "add PGTune's value (oltp, same hardware and max_connections) to the table");
  cmd.action((opts: TierFlags & { format: Format; comparePgtune?: boolean }) => {
    const s = tune(tierFromFlags(opts));
    if (opts.format === 'json') {
      process.stdout.write(JSON.stringify(settingsJson(s), null, 2) + '\n');
    } else if (opts.format === 'conf') {
      for (const [section, name, value, reason] of settingRows(s))
        process.stdout.write(
          `${section === 'postgres' ? '' : `# [${section}] `}${name} = ${value}  # ${reason}\n`,
        );
    } else {
      const hw = s.tier.hardware;
      process.stdout.write(
        `tier ${s.tier.name}: ${counted(hw.cores, 'core')}, ${(hw.ramMiB / 1024).toFixed(1)} GiB RAM, ${hw.disk}, ${counted(s.tier.users, 'concurrent uploader')}\n\n`,
      );
      if (opts.comparePgtune) {
        const ref = pgtuneColumn(s);
        const rows = settingRows(s).map(([sec, name, value, reason]) => [
          sec,
          name,
          value,
          ref(sec, name),
          reason,
        ]);
        process.stdout.write(formatTable(rows, ['section', 'setting', 'value', 'PGTune', 'reason']));
      } else {
        process.stdout.write(formatTable(settingRows(s), ['section', 'setting', 'value', 'reason']));
      }
    }
  });
  return cmd;
}

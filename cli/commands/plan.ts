import fs from 'node:fs';
import { Command, Option } from 'commander';
import { plan } from '../../config-templates';
import { calibrationFromBench, type Calibration } from '../../config-templates/throughput';
import { parseDuration } from '../../config-templates/human';
import { UsageError } from '../usage-error';
import { positiveNumber } from '../flag-values';
import { counted } from '../../config-templates/plural';
import { formatTable } from './tune';

export function planCommand(): Command {
  return new Command('plan')
    .description(
      'capacity plan for concurrent uploads: data, index, WAL, memory, the tier and server that fit',
    )
    .option('--users <n>', 'people uploading at the same moment', '40')
    .option('--rows <n>', 'rows each person uploads', '1000000')
    .option('--row-bytes <n>', 'average bytes of column data per row', '200')
    .option(
      '--within <time>',
      'the wanted load time of the whole burst, e.g. 30s, 5m (tiers that miss it do not fit)',
    )
    .option(
      '--calibration <file>',
      "throughput measured on your tier: npm run bench:schema's JSON (default: this project's 2-core figures)",
    )
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(
      (o: {
        users: string;
        rows: string;
        rowBytes: string;
        format: string;
        within?: string;
        calibration?: string;
      }) => {
        const p = plan({
          users: positiveNumber('users', o.users),
          rowsPerUser: positiveNumber('rows', o.rows),
          rowBytes: positiveNumber('row-bytes', o.rowBytes),
          ...(o.within !== undefined ? { withinSeconds: seconds(o.within) } : {}),
          ...(o.calibration !== undefined ? { calibration: readCalibration(o.calibration) } : {}),
        });
        if (o.format === 'json') {
          process.stdout.write(JSON.stringify(p, null, 2) + '\n');
          return;
        }
        const gb = (n: number) => `${n.toFixed(1)} GB`;
        const out = [
          `${counted(p.input.users, 'user')} × ${counted(p.input.rowsPerUser, 'row')} × ${p.input.rowBytes} B = ${counted(p.rows, 'row')}`,
          '',
          `raw data            ${gb(p.rawGB)}`,
          `table (heap)        ${gb(p.heapGB)}   row + 32 B tuple header/pointer, 8 KiB pages`,
          `key (tm_id, id)     ${gb(p.indexGB)}   ${((p.indexGB / p.heapGB) * 100).toFixed(0)}% of the table`,
          `WAL written         ${gb(p.walGB)}   recycled after checkpoints; archive it for point-in-time recovery`,
          `disk needed         ${gb(p.diskNeededGB)}   table + indexes + max_wal_size, 30% free`,
          '',
          `memory (tier ${p.chosen.tier}, worst case; the rows themselves stream to disk, not RAM):`,
          formatTable(
            p.memory.map((l) => [
              l.item,
              l.mib < 1024 ? `${l.mib} MiB` : `${(l.mib / 1024).toFixed(1)} GiB`,
              l.formula,
            ]),
            ['item', 'size', 'formula'],
          ),
          'tiers:',
          formatTable(
            p.candidates.map((c) => [
              c.tier,
              `${c.server.name.toUpperCase()} (${c.server.cores} vCPU, ${c.server.ramGiB} GB)`,
              c.fits ? 'fits' : 'no',
              `~${duration(c.load.seconds)} (${Math.round(c.load.rowsPerSecond / 1000)}k rows/s)`,
              `€${c.eurPerMonth.toFixed(2)}/month`,
              c.note,
            ]),
            ['tier', 'Hetzner server', 'fits', 'load time (see assumptions)', 'price', 'note'],
          ),
          ...(p.oneServerMeetsWithin === false
            ? [
                `within ${duration(p.withinSeconds!)}: NO single server meets it at the calibrated rate (the fastest tier needs ~${duration(Math.min(...p.candidates.map((c) => c.load.seconds)))}). Spread the uploads over more time, or the users over several servers; or measure your tier (--calibration) if it may be faster than assumed.`,
              ]
            : []),
          'load time assumes:',
          ...p.loadAssumptions.map((a) => `  - ${a}`),
          `choose: ${p.chosen.tier} — ${p.chosen.server.name.toUpperCase()}, €${p.chosen.eurPerMonth.toFixed(2)}/month excl. VAT, with IPv4 (list prices as of ${p.prices.asOf} for ${p.prices.appliesTo})`,
          `prices: ${p.prices.source}.`,
          `  ${p.prices.caveat[0].toUpperCase()}${p.prices.caveat.slice(1)}.`,
        ];
        process.stdout.write(out.join('\n') + '\n');
      },
    );
}

/** `30s`, `5m`, `1h`, or plain seconds. */
function seconds(text: string): number {
  const s = parseDuration(text);
  if (s === null) throw new UsageError(`--within must be a time such as 30s, 5m or 1h, got "${text}"`);
  return s;
}

function duration(s: number): string {
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function readCalibration(file: string): Calibration {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`--calibration ${file}: ${(err as NodeJS.ErrnoException).code ?? 'not valid JSON'}`);
  }
  try {
    return calibrationFromBench(json, file);
  } catch (err) {
    throw new UsageError(`--calibration ${(err as Error).message}`);
  }
}

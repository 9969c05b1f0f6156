import { Command } from 'commander';
import { plan } from '../../config-templates';
import { formatTable } from './tune';

function positive(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${flag} must be a positive number, got "${text}"`);
  return n;
}

export function planCommand(): Command {
  return new Command('plan')
    .description(
      'capacity plan for concurrent uploads: data, index, WAL, memory, the tier and server that fit',
    )
    .option('--users <n>', 'people uploading at the same moment', '40')
    .option('--rows <n>', 'rows each person uploads', '1000000')
    .option('--row-bytes <n>', 'average bytes of column data per row', '200')
    .option('--format <format>', 'text or json', 'text')
    .action((o: { users: string; rows: string; rowBytes: string; format: string }) => {
      const p = plan({
        users: positive('users', o.users),
        rowsPerUser: positive('rows', o.rows),
        rowBytes: positive('row-bytes', o.rowBytes),
      });
      if (o.format === 'json') {
        process.stdout.write(JSON.stringify(p, null, 2) + '\n');
        return;
      }
      const gb = (n: number) => `${n.toFixed(1)} GB`;
      const out = [
        `${p.input.users} users × ${p.input.rowsPerUser.toLocaleString('en')} rows × ${p.input.rowBytes} B = ${p.rows.toLocaleString('en')} rows`,
        '',
        `raw data            ${gb(p.rawGB)}`,
        `table (heap)        ${gb(p.heapGB)}   row + 32 B tuple header/pointer, 8 KiB pages`,
        `indexes (PK, tm_id) ${gb(p.indexGB)}   ${((p.indexGB / p.heapGB) * 100).toFixed(0)}% of the table`,
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
            `€${c.eurPerMonth.toFixed(2)}/month`,
            c.note,
          ]),
          ['tier', 'Hetzner server', 'fits', 'price', 'note'],
        ),
        `choose: ${p.chosen.tier} — ${p.chosen.server.name.toUpperCase()}, €${p.chosen.eurPerMonth.toFixed(2)}/month excl. VAT (list prices as of ${p.pricesAsOf}; check hetzner.com/cloud)`,
      ];
      process.stdout.write(out.join('\n') + '\n');
    });
}

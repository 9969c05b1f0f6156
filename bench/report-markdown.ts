// The Markdown report of a run: targets first, then every table, then how each figure was measured.
import type { BenchReport, ConcurrentResult, ConcurrentSide } from './report-types';
import type { SampleSummary } from './samplers';

const n0 = (v: number) => Math.round(v).toLocaleString('en');
const s1 = (ms: number) => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : '–');
const ratio = (v: number | null | undefined) => (v === null || v === undefined ? '–' : `${v.toFixed(2)}×`);
const cell = (s: string) => s.replace(/\|/g, '\\|');

function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.map((c) => cell(String(c))).join(' | ')} |`;
  return [line(head), `|${head.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}

function waits(s: SampleSummary, limit = 6): string {
  if (!s.waitEvents.length) return 'none sampled';
  return s.waitEvents
    .slice(0, limit)
    .map((w) => `${w.event} ${(w.share * 100).toFixed(0)}%`)
    .join(', ');
}

/** p50 / p95 / max, and how many uploads the sampler saw start (a very short upload can finish unseen). */
function firstAccepted(s: ConcurrentSide): string {
  const f = s.firstAcceptedMs;
  if (!f || f.n === 0) return 'not observed';
  const seen = f.n < s.perUploadMs.n ? ` (${f.n} of ${s.perUploadMs.n} seen)` : '';
  return `${n0(f.p50)} / ${n0(f.p95)} / ${n0(f.max)}${seen}`;
}

function concurrentTable(c: ConcurrentResult): string {
  const row = (name: string, s: ConcurrentSide, endpoint: boolean) => [
    name,
    n0(s.aggregateRowsPerSec),
    s1(s.wallMs),
    `${s1(s.perUploadMs.p50)} / ${s1(s.perUploadMs.p95)} / ${s1(s.perUploadMs.max)}`,
    endpoint && s.firstAcceptedMs ? firstAccepted(s) : '–',
    `${s.errors} / ${s.refused}`,
    s.sampled.bouncerMaxWaitMs === null || !endpoint ? '–' : `${s.sampled.bouncerMaxWaitMs}`,
    s.sampled.workerPeakRssMiB === null ? '–' : `${s.sampled.workerPeakRssMiB}`,
    `${s.sampled.peakPgConnections} (${s.sampled.peakCopies} in COPY)`,
  ];
  return table(
    [
      'side',
      'aggregate rows/s',
      'wall s (mean)',
      'per upload s p50 / p95 / max',
      'first byte accepted ms p50 / p95 / max',
      'errors / refused',
      'PgBouncer maxwait ms',
      'worker peak RSS MiB',
      'peak PG connections',
    ],
    [row(`endpoint (${c.format})`, c.endpoint, true), row('psql \\copy ×N', c.psql, false)],
  );
}

export function renderMarkdown(r: BenchReport, chartFile: string): string {
  const out: string[] = [];
  const m = r.machine;
  out.push(`# Ingest benchmark: ${r.startedAt.slice(0, 10)} on ${m.host}`);
  out.push('');
  out.push(
    `\`${r.command}\` · ${r.durationSec} s · started ${r.startedAt} · chart: [${chartFile}](${chartFile})`,
  );
  out.push('');
  out.push(`![rows/s by method and by N](${chartFile})`);
  out.push('');
  out.push('## Machine');
  out.push('');
  out.push(
    table(
      ['', ''],
      [
        ['CPU', `${m.cores} cores, ${m.cpuModel}`],
        ['RAM', `${m.ramGiB} GiB`],
        [
          'disk',
          `${m.disk.device} (${m.disk.fsType}, ${m.disk.sizeGiB} GiB, rotational flag ${m.disk.rotational ?? '?'}) at ${m.disk.mount}; 8 KiB write+fdatasync median ${m.disk.fdatasyncMs} ms`,
        ],
        ['PostgreSQL', m.postgres],
        ['PgBouncer', m.pgbouncer],
        ['psql (baseline client)', m.psql],
        ['Node.js', m.node],
        ['kernel', m.kernel],
        ['load average (1 min) at start', String(m.loadAvgAtStart)],
        ['niceness of the benchmark and its servers', String(m.niceness ?? 0)],
        ['tier', `${r.tier.name}: ${r.tier.cores} cores, ${r.tier.ramMiB} MiB, ${r.tier.users} users`],
        ...Object.entries(r.settings).map(([k, v]) => [k, String(v)]),
      ],
    ),
  );
  out.push('');
  out.push('## Targets');
  out.push('');
  out.push(
    table(
      ['target', 'from', 'wanted', 'measured', 'result'],
      r.targets.map((t) => [
        t.what,
        t.source,
        t.target,
        t.measured,
        t.pass === null ? 'not measured' : t.pass ? '**pass**' : '**miss**',
      ]),
    ),
  );
  out.push('');
  if (r.methods.length) {
    out.push(`## Methods, straight into PostgreSQL (${n0(r.methods[0].rows)} rows, each into a fresh table)`);
    out.push('');
    out.push(
      table(
        ['method', 'rows', 'seconds', 'rows/s', 'MB/s', '× psql \\copy'],
        r.methods.map((x) => [
          x.label + (x.note ? ` (${x.note})` : ''),
          n0(x.rows),
          s1(x.ms),
          n0(x.rowsPerSec),
          x.mbPerSec.toFixed(1),
          ratio(x.ratioToPsql),
        ]),
      ),
    );
    out.push('');
  }
  if (r.single.uploads.length) {
    const b = r.single.baseline;
    out.push(`## One upload through the worker and PgBouncer (${n0(r.single.uploads[0].rows)} rows)`);
    out.push('');
    const rows: (string | number)[][] = [];
    if (b) rows.push([b.label, s1(b.ms), n0(b.rowsPerSec), b.mbPerSec.toFixed(1), '–', '1.00×', '–', '–']);
    for (const u of r.single.uploads) {
      rows.push([
        u.label,
        s1(u.ms),
        n0(u.rowsPerSec),
        u.mbPerSec.toFixed(1),
        (u.bodyBytes / 1e6).toFixed(0),
        ratio(u.ratioToPsql),
        u.sampled?.workerPeakRssMiB ?? '–',
        u.sampled ? waits(u.sampled, 4) : '–',
      ]);
    }
    out.push(
      table(
        [
          'upload',
          'seconds',
          'rows/s',
          'MB/s (rows as TSV)',
          'body MB',
          '× psql \\copy',
          'worker peak RSS MiB',
          'PostgreSQL backends were (sampled)',
        ],
        rows,
      ),
    );
    out.push('');
  }
  if (r.concurrent) {
    const c = r.concurrent;
    out.push(`## ${c.users} users uploading at once (${n0(c.rowsPerUpload)} rows each, ${c.format})`);
    out.push('');
    out.push(
      `Endpoint aggregate ÷ psql aggregate: **${ratio(c.ratio)}**, over ${c.runs} run${c.runs === 1 ? '' : 's'} per side in ABBA order (rows/s per run, endpoint: ${c.endpoint.runRowsPerSec.map(n0).join(', ')}; psql: ${c.psql.runRowsPerSec.map(n0).join(', ')}); per-upload figures pool every run.`,
    );
    out.push('');
    out.push(concurrentTable(c));
    out.push('');
    out.push(`PostgreSQL backends during the uploads: ${waits(c.endpoint.sampled)}.`);
    out.push('');
    out.push(`PostgreSQL backends during the parallel psql \\copy: ${waits(c.psql.sampled)}.`);
    if (c.endpoint.errorSamples.length) {
      out.push('');
      out.push(`Errors: ${c.endpoint.errorSamples.map((e) => `\`${e}\``).join('; ')}`);
    }
    out.push('');
  }
  if (r.scaling.length) {
    out.push('## Scaling with the number of concurrent uploads');
    out.push('');
    out.push(
      table(
        [
          'N',
          'endpoint rows/s',
          'psql ×N rows/s',
          '× psql',
          'per user s p50 (endpoint / psql)',
          'per user s max (endpoint / psql)',
          'first byte accepted p95 ms',
          'maxwait ms',
          'peak RSS MiB',
          'errors',
        ],
        r.scaling.map((s) => [
          s.users,
          n0(s.endpoint.aggregateRowsPerSec),
          n0(s.psql.aggregateRowsPerSec),
          ratio(s.ratio),
          `${s1(s.endpoint.perUploadMs.p50)} / ${s1(s.psql.perUploadMs.p50)}`,
          `${s1(s.endpoint.perUploadMs.max)} / ${s1(s.psql.perUploadMs.max)}`,
          s.endpoint.firstAcceptedMs?.n ? n0(s.endpoint.firstAcceptedMs.p95) : '–',
          s.endpoint.sampled.bouncerMaxWaitMs ?? '–',
          s.endpoint.sampled.workerPeakRssMiB ?? '–',
          s.endpoint.errors,
        ]),
      ),
    );
    out.push('');
  }
  for (const p of r.profiles) {
    out.push(`## Worker CPU profile: ${p.scenario}`);
    out.push('');
    out.push(
      `Self time by function, as a share of the worker's busy time (node --cpu-prof: busy ${n0(p.busyMs)} ms of ${n0(p.totalMs)} ms, start-up included; file \`${p.file}\`):`,
    );
    out.push('');
    out.push(
      table(
        ['function', 'where', 'self ms', 'share'],
        p.top.map((e) => [e.function, e.location, n0(e.selfMs), `${(e.share * 100).toFixed(1)}%`]),
      ),
    );
    out.push('');
  }
  out.push('## How this was measured');
  out.push('');
  for (const note of r.notes) out.push(`- ${note}`);
  out.push('');
  return out.join('\n');
}

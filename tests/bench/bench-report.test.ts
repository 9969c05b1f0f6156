// The report a person reads: targets marked pass/miss from the ratios, the Markdown tables, an SVG that is
// well-formed XML with one bar per measurement, the files written where promised, and the CPU-profile
// ranking. Inputs are small hand-made results; no database is needed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { summarizeCpuProfile, mainThreadCpuProfile } from '../../bench/cpu-profile';
import { renderMarkdown } from '../../bench/report-markdown';
import { escapeXml, niceMax, renderChart } from '../../bench/report-svg';
import type { BenchReport, ConcurrentResult, ConcurrentSide } from '../../bench/report-types';
import { rerender } from '../../bench/render-report';
import { writeReports } from '../../bench/run';
import { mergeSamples, type SampleSummary } from '../../bench/samplers';
import { percentile, summarize } from '../../bench/stats';
import { evaluateTargets } from '../../bench/targets';

const sampled = (over: Partial<SampleSummary> = {}): SampleSummary => ({
  samples: 10,
  workerPeakRssMiB: 120,
  peakPgConnections: 42,
  peakCopies: 40,
  bouncerMaxWaitMs: 0,
  bouncerMaxClientsWaiting: 0,
  waitEvents: [
    { event: 'CPU', samples: 6, share: 0.6 },
    { event: 'LWLock:WALWrite', samples: 4, share: 0.4 },
  ],
  ...over,
});

const side = (rowsPerSec: number, over: Partial<ConcurrentSide> = {}): ConcurrentSide => ({
  aggregateRowsPerSec: rowsPerSec,
  runRowsPerSec: [rowsPerSec],
  wallMs: 30_000,
  perUploadMs: summarize([20_000, 25_000, 30_000]),
  firstAcceptedMs: summarize([40, 80, 120]),
  errors: 0,
  refused: 0,
  errorSamples: [],
  sampled: sampled(),
  ...over,
});

const concurrent = (
  users: number,
  endpoint: number,
  psql: number,
  over: Partial<ConcurrentSide> = {},
): ConcurrentResult => ({
  users,
  rowsPerUpload: 100_000,
  format: 'pgcopy',
  runs: 1,
  endpoint: side(endpoint, over),
  psql: side(psql, { firstAcceptedMs: null }),
  ratio: Math.round((endpoint / psql) * 100) / 100,
});

function report(over: Partial<Omit<BenchReport, 'targets'>> = {}): BenchReport {
  const base: Omit<BenchReport, 'targets'> = {
    version: 1,
    startedAt: '2024-06-11T10:00:00.000Z',
    finishedAt: '2024-06-11T10:08:00.000Z',
    durationSec: 480,
    command: 'npm run bench',
    options: {},
    machine: {
      host: 'test<host>',
      cpuModel: 'Test CPU',
      cores: 2,
      ramGiB: 24,
      kernel: 'Linux 6',
      node: 'v20',
      postgres: 'PostgreSQL 16.14',
      pgbouncer: 'PgBouncer 1.18.0',
      psql: 'psql 15',
      disk: {
        mount: '/',
        device: '/dev/vda',
        fsType: 'ext4',
        sizeGiB: 256,
        rotational: false,
        fdatasyncMs: 1.2,
      },
      loadAvgAtStart: 0.5,
      niceness: 0,
    },
    tier: { name: 'detect', cores: 2, ramMiB: 24000, users: 40 },
    settings: { 'PgBouncer ingest pool': '40 (transaction)' },
    data: { seed: 1, rowBytesTsv: 195, files: {} },
    methods: [
      {
        id: 'psql-copy',
        label: 'psql \\copy (text, baseline)',
        rows: 1e6,
        ms: 8000,
        rowsPerSec: 125_000,
        mbPerSec: 24.4,
        ratioToPsql: 1,
      },
      {
        id: 'binary-copy',
        label: 'binary COPY',
        rows: 1e6,
        ms: 7000,
        rowsPerSec: 142_857,
        mbPerSec: 27.9,
        ratioToPsql: 1.14,
      },
      {
        id: 'multi-row-insert',
        label: 'multi-row INSERT | 5000 & <batch>',
        rows: 1e6,
        ms: 40_000,
        rowsPerSec: 25_000,
        mbPerSec: 4.9,
        ratioToPsql: 0.2,
      },
    ],
    single: {
      baseline: {
        id: 'psql-copy',
        label: 'psql',
        rows: 1e6,
        ms: 8000,
        rowsPerSec: 125_000,
        mbPerSec: 24.4,
        ratioToPsql: 1,
      },
      uploads: [
        {
          id: 'endpoint-pgcopy',
          label: 'endpoint, pgcopy',
          rows: 1e6,
          ms: 8500,
          rowsPerSec: 117_647,
          mbPerSec: 23,
          bodyBytes: 213e6,
          ratioToPsql: 0.94,
          sampled: sampled(),
        },
        {
          id: 'endpoint-ndjson',
          label: 'endpoint, NDJSON',
          rows: 1e6,
          ms: 12_000,
          rowsPerSec: 83_333,
          mbPerSec: 16,
          bodyBytes: 242e6,
          ratioToPsql: 0.67,
          sampled: sampled({ workerPeakRssMiB: 230 }),
        },
      ],
    },
    concurrent: concurrent(40, 120_000, 135_000),
    scaling: [concurrent(1, 100_000, 120_000), concurrent(40, 120_000, 135_000)],
    profiles: [],
    notes: ['a note'],
    ...over,
  };
  return { ...base, targets: evaluateTargets(base) };
}

describe('targets', () => {
  it('passes and misses by the ratios measured in the run', () => {
    const t = Object.fromEntries(report().targets.map((x) => [x.id, x]));
    expect(t['single-pgcopy'].pass).toBe(true); // 0.94 ≥ 0.9
    expect(t['single-ndjson'].pass).toBe(false); // 0.67 < 0.75
    expect(t['single-tsv'].pass).toBeNull(); // not uploaded in this run
    expect(t['single-rss']).toMatchObject({ pass: false, measured: '230 MiB' });
    expect(t['concurrent-aggregate']).toMatchObject({ pass: true, measured: '0.89×' }); // 120k / 135k
    expect(t['concurrent-first-accepted']).toMatchObject({ pass: true, measured: '120 ms' });
    expect(t['claim-copy-vs-insert']).toMatchObject({ pass: true, measured: '5.71×' });
    expect(t['claim-copy-vs-single-insert'].pass).toBeNull(); // no single-row INSERT in this run
    expect(t['claim-zero-queuing'].pass).toBe(true);
  });

  it('counts errors, refusals and a slow first byte as misses', () => {
    const c = concurrent(40, 120_000, 100_000, {
      errors: 2,
      refused: 1,
      firstAcceptedMs: summarize([100, 200, 1500]),
      sampled: sampled({ bouncerMaxWaitMs: 250, workerPeakRssMiB: 260 }),
    });
    const t = Object.fromEntries(report({ concurrent: c }).targets.map((x) => [x.id, x]));
    expect(t['concurrent-errors']).toMatchObject({ pass: false, measured: '2' });
    expect(t['concurrent-refused']).toMatchObject({ pass: false, measured: '1' });
    expect(t['concurrent-first-accepted']).toMatchObject({ pass: false, measured: '1500 ms' });
    expect(t['concurrent-rss'].pass).toBe(false);
    expect(t['claim-zero-queuing']).toMatchObject({ pass: false, measured: '250 ms' });
  });

  it('marks everything not measured when no scenario ran', () => {
    const r = report({ methods: [], single: { baseline: null, uploads: [] }, concurrent: null, scaling: [] });
    expect(r.targets.every((t) => t.pass === null && t.measured.startsWith('not measured'))).toBe(true);
  });
});

describe('Markdown report', () => {
  const md = renderMarkdown(report(), 'chart.svg');

  it('names the machine and versions, links the chart, and shows each target with pass/miss', () => {
    expect(md).toContain('| CPU | 2 cores, Test CPU |');
    expect(md).toContain('PostgreSQL 16.14');
    expect(md).toContain('PgBouncer 1.18.0');
    expect(md).toContain('![rows/s by method and by N](chart.svg)');
    expect(md).toMatch(
      /\| one upload, NDJSON \| issues 3, 6 \| ≥ 0\.75× psql \\copy \| 0\.67× \| \*\*miss\*\* \|/,
    );
    expect(md).toMatch(/\| one upload, pgcopy \|.*\| 0\.94× \| \*\*pass\*\* \|/);
  });

  it('escapes pipes inside cells so tables keep their columns', () => {
    const line = md.split('\n').find((l) => l.startsWith('| multi-row INSERT'))!;
    expect(line).toContain('multi-row INSERT \\| 5000');
    const header = md.split('\n').find((l) => l.startsWith('| method |'))!;
    const cells = (l: string) => l.replace(/\\\|/g, '').split('|').length;
    expect(cells(line)).toBe(cells(header));
  });

  it('has the scaling table with one row per N', () => {
    expect(md).toMatch(/\| 1 \| 100,000 \| 120,000 \| 0\.83× \|/);
    expect(md).toMatch(/\| 40 \| 120,000 \| 135,000 \| 0\.89× \|/);
  });
});

/** Minimal XML well-formedness: tags nest and close, attribute values quoted, text has no bare < or &. */
function checkWellFormed(xml: string): void {
  const stack: string[] = [];
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(xml))) {
    if (m[6]) throw new Error(`bad markup at ${m.index}: ${xml.slice(m.index, m.index + 40)}`);
    if (m[5] !== undefined) {
      if (/&(?!(amp|lt|gt|quot|apos);)/.test(m[5])) throw new Error(`bare & in text: ${m[5]}`);
      continue;
    }
    if (m[1]) {
      if (stack.pop() !== m[2]) throw new Error(`</${m[2]}> closes nothing at ${m.index}`);
    } else if (!m[4]) stack.push(m[2]);
  }
  if (stack.length) throw new Error(`unclosed: ${stack.join(', ')}`);
}

describe('SVG chart', () => {
  const svg = renderChart(report());

  it('is well-formed XML with escaped labels', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    checkWellFormed(svg);
    expect(svg).toContain('multi-row INSERT | 5000 &amp; &lt;batch&gt;');
    expect(escapeXml('a<b & "c"')).toBe('a&lt;b &amp; &quot;c&quot;');
  });

  it('draws one bar per method and upload, and an endpoint/psql pair per N', () => {
    const bars = (svg.match(/<rect x="\d/g) ?? []).length;
    // 3 methods + (baseline + 2 uploads) + 2 N × 2 + 2 legend swatches
    expect(bars).toBe(3 + 3 + 4 + 2);
    expect(svg).toContain('N = 40');
    expect(svg).toContain('0.89× psql');
  });

  it('scales bars to a round axis maximum', () => {
    expect(niceMax(142_857)).toBe(200_000);
    expect(niceMax(120_000)).toBe(200_000);
    expect(niceMax(90)).toBe(100);
    expect(niceMax(0)).toBe(1);
    const widths = [...svg.matchAll(/<rect x="330" y="[\d.]+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    // psql 125k and binary COPY 142.9k on a 200k axis: bar widths keep that ratio
    expect(widths[1] / widths[0]).toBeCloseTo(142_857 / 125_000, 2);
  });
});

describe('writeReports', () => {
  it('writes dated and latest Markdown, JSON and SVG; the JSON reads back as the report', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-bench-report-'));
    try {
      const r = report();
      writeReports(r, dir, () => undefined);
      const names = fs.readdirSync(dir).sort();
      expect(names).toEqual(
        ['2024-06-11-test_host_', 'latest'].flatMap((b) => [`${b}.json`, `${b}.md`, `${b}.svg`]).sort(),
      );
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'latest.json'), 'utf8'))).toEqual(r);
      expect(fs.readFileSync(path.join(dir, 'latest.md'), 'utf8')).toContain('](latest.svg)');
      expect(fs.readFileSync(path.join(dir, '2024-06-11-test_host_.md'), 'utf8')).toContain(
        '](2024-06-11-test_host_.svg)',
      );
      writeReports(r, dir, () => undefined, 'warm start');
      expect(
        fs
          .readdirSync(dir)
          .filter((n) => n.includes('warm_start'))
          .sort(),
      ).toEqual(
        ['2024-06-11-test_host_-warm_start', 'latest-warm_start']
          .flatMap((b) => [`${b}.json`, `${b}.md`, `${b}.svg`])
          .sort(),
      );
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'latest.json'), 'utf8'))).toEqual(r);
      // Redrawn from the JSON alone: the same Markdown and SVG as written with the run.
      const md = fs.readFileSync(path.join(dir, 'latest.md'), 'utf8');
      fs.rmSync(path.join(dir, 'latest.md'));
      fs.rmSync(path.join(dir, 'latest.svg'));
      expect(rerender(path.join(dir, 'latest.json'))).toEqual([
        path.join(dir, 'latest.md'),
        path.join(dir, 'latest.svg'),
      ]);
      expect(fs.readFileSync(path.join(dir, 'latest.md'), 'utf8')).toBe(md);
      expect(fs.readFileSync(path.join(dir, 'latest.svg'), 'utf8')).toBe(renderChart(r));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('statistics and CPU profiles', () => {
  it('uses nearest-rank percentiles (every figure is an observation)', () => {
    const v = [5, 1, 4, 2, 3];
    expect(percentile([1, 2, 3, 4, 5], 50)).toBe(3);
    expect(percentile([1, 2, 3, 4, 5], 95)).toBe(5);
    expect(summarize(v)).toEqual({ n: 5, min: 1, p50: 3, p95: 5, max: 5, mean: 3 });
    expect(Number.isNaN(summarize([]).p50)).toBe(true);
  });

  it('merges runs: peaks are maxima, wait-event shares weighted by samples', () => {
    const a = sampled({
      bouncerMaxWaitMs: 5,
      workerPeakRssMiB: 130,
      waitEvents: [{ event: 'CPU', samples: 3, share: 1 }],
    });
    const b = sampled({
      bouncerMaxWaitMs: 0,
      workerPeakRssMiB: 150,
      peakPgConnections: 12,
      waitEvents: [
        { event: 'CPU', samples: 1, share: 0.5 },
        { event: 'Lock:extend', samples: 1, share: 0.5 },
      ],
    });
    const m = mergeSamples([a, b]);
    expect(m).toMatchObject({
      samples: 20,
      bouncerMaxWaitMs: 5,
      workerPeakRssMiB: 150,
      peakPgConnections: 42,
    });
    expect(m.waitEvents).toEqual([
      { event: 'CPU', samples: 4, share: 0.8 },
      { event: 'Lock:extend', samples: 1, share: 0.2 },
    ]);
    expect(
      mergeSamples([sampled({ workerPeakRssMiB: null, bouncerMaxWaitMs: null })]).workerPeakRssMiB,
    ).toBeNull();
  });

  it('ranks functions by self time, leaving idle time out of the shares', () => {
    const frame = (functionName: string, url = '') => ({ functionName, url, lineNumber: 9, columnNumber: 0 });
    const profile = {
      startTime: 0,
      endTime: 1000,
      nodes: [
        { id: 1, callFrame: frame('(root)') },
        { id: 2, callFrame: frame('(idle)') },
        { id: 3, callFrame: frame('parse', 'file:///repo/ingest/csv.ts') },
        { id: 4, callFrame: frame('parse', 'file:///repo/ingest/csv.ts') }, // same function, other call path
        { id: 5, callFrame: frame('(garbage collector)') },
      ],
      samples: [2, 3, 4, 5, 2, 3],
      timeDeltas: [500_000, 100_000, 200_000, 100_000, 500_000, 100_000],
    };
    const s = summarizeCpuProfile(profile, 10, '/repo');
    expect(s.totalMs).toBe(1500);
    expect(s.busyMs).toBe(500);
    expect(s.top).toEqual([
      { function: 'parse', location: 'ingest/csv.ts:10', selfMs: 400, share: 0.8 },
      { function: '(garbage collector)', location: '', selfMs: 100, share: 0.2 },
    ]);
  });

  it("picks the main thread's profile among the per-thread files node writes", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-prof-'));
    try {
      fs.writeFileSync(path.join(dir, 'CPU.20240611.100000.42.1.002.cpuprofile'), 'x'.repeat(100));
      fs.writeFileSync(path.join(dir, 'CPU.20240611.100000.42.0.001.cpuprofile'), 'x');
      expect(mainThreadCpuProfile(dir)).toBe(path.join(dir, 'CPU.20240611.100000.42.0.001.cpuprofile'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

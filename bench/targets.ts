// The targets from the issues (ratios to the baseline measured in the same run), checked against a report.
import type { BenchReport, TargetResult } from './report-types';

const x = (v: number | null | undefined) =>
  v === null || v === undefined ? 'not measured' : `${v.toFixed(2)}×`;

export const RSS_LIMIT_MIB = 200;
export const FIRST_ACCEPTED_P95_LIMIT_MS = 1000;

export function evaluateTargets(r: Omit<BenchReport, 'targets'>): TargetResult[] {
  const out: TargetResult[] = [];
  const upload = (id: string) => r.single.uploads.find((u) => u.id === id);
  const ratioTarget = (
    tid: string,
    source: string,
    what: string,
    min: number,
    ratio: number | null | undefined,
  ) =>
    out.push({
      id: tid,
      source,
      what,
      target: `≥ ${min.toFixed(2)}× psql \\copy`,
      measured: x(ratio),
      pass: ratio === null || ratio === undefined ? null : ratio >= min,
    });

  ratioTarget(
    'single-pgcopy',
    'issues 3, 6',
    'one upload, pgcopy',
    0.9,
    upload('endpoint-pgcopy')?.ratioToPsql,
  );
  ratioTarget('single-tsv', 'issue 3', 'one upload, TSV', 0.9, upload('endpoint-tsv')?.ratioToPsql);
  ratioTarget(
    'single-ndjson',
    'issues 3, 6',
    'one upload, NDJSON',
    0.75,
    upload('endpoint-ndjson')?.ratioToPsql,
  );
  ratioTarget(
    'single-sdk',
    'issue 4',
    'one upload through the client SDK (pgcopy encoded in the client)',
    0.9,
    upload('endpoint-sdk')?.ratioToPsql,
  );
  const singleRss = r.single.uploads
    .map((u) => u.sampled?.workerPeakRssMiB)
    .filter((v): v is number => typeof v === 'number');
  out.push({
    id: 'single-rss',
    source: 'issue 3',
    what: 'worker peak RSS during one upload',
    target: `< ${RSS_LIMIT_MIB} MB`,
    measured: singleRss.length ? `${Math.max(...singleRss)} MiB` : 'not measured',
    pass: singleRss.length ? Math.max(...singleRss) < RSS_LIMIT_MIB : null,
  });

  const c = r.concurrent;
  const n = c ? `N = ${c.users}` : 'N concurrent';
  ratioTarget('concurrent-aggregate', 'issue 6', `${n} uploads, aggregate rows/s`, 0.85, c?.ratio);
  out.push({
    id: 'concurrent-errors',
    source: 'issue 6',
    what: `${n} uploads: errors`,
    target: '0',
    measured: c ? String(c.endpoint.errors) : 'not measured',
    pass: c ? c.endpoint.errors === 0 : null,
  });
  out.push({
    id: 'concurrent-refused',
    source: 'issue 6',
    what: `${n} uploads: refused connections / 503`,
    target: '0',
    measured: c ? String(c.endpoint.refused) : 'not measured',
    pass: c ? c.endpoint.refused === 0 : null,
  });
  const p95 = c?.endpoint.firstAcceptedMs?.p95;
  out.push({
    id: 'concurrent-first-accepted',
    source: 'issue 6',
    what: `${n}: time to first byte accepted, p95`,
    target: `< ${FIRST_ACCEPTED_P95_LIMIT_MS} ms`,
    measured: p95 === undefined || Number.isNaN(p95) ? 'not measured' : `${Math.round(p95)} ms`,
    pass: p95 === undefined || Number.isNaN(p95) ? null : p95 < FIRST_ACCEPTED_P95_LIMIT_MS,
  });
  const rss = c?.endpoint.sampled.workerPeakRssMiB;
  out.push({
    id: 'concurrent-rss',
    source: 'issue 6',
    what: `${n}: worker peak RSS`,
    target: `< ${RSS_LIMIT_MIB} MB`,
    measured: rss === null || rss === undefined ? 'not measured' : `${rss} MiB`,
    pass: rss === null || rss === undefined ? null : rss < RSS_LIMIT_MIB,
  });
  const wait = c?.endpoint.sampled.bouncerMaxWaitMs;
  out.push({
    id: 'claim-zero-queuing',
    source: 'planning notes',
    what: `"zero queuing" at ${n}: PgBouncer SHOW POOLS maxwait`,
    target: '0 ms',
    measured: wait === null || wait === undefined ? 'not measured' : `${wait} ms`,
    pass: wait === null || wait === undefined ? null : wait === 0,
  });
  const copy = r.methods.find((m) => m.id === 'binary-copy');
  const insert = r.methods.find((m) => m.id === 'multi-row-insert');
  const copyVsInsert = copy && insert ? copy.rowsPerSec / insert.rowsPerSec : null;
  out.push({
    id: 'claim-copy-vs-insert',
    source: 'planning notes',
    what: '"COPY 5–10× faster than INSERT": binary COPY ÷ multi-row INSERT',
    target: '≥ 5×',
    measured: x(copyVsInsert),
    pass: copyVsInsert === null ? null : copyVsInsert >= 5,
  });
  const single = r.methods.find((m) => m.id === 'single-row-insert');
  const copyVsSingle = copy && single ? copy.rowsPerSec / single.rowsPerSec : null;
  out.push({
    id: 'claim-copy-vs-single-insert',
    source: 'planning notes',
    what: '"COPY 5–10× faster than INSERT": binary COPY ÷ single-row INSERT',
    target: '≥ 5×',
    measured: x(copyVsSingle),
    pass: copyVsSingle === null ? null : copyVsSingle >= 5,
  });
  return out;
}

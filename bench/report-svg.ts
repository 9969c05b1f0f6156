// A self-contained SVG (no scripts, no external fonts) of a run: rows/s by method, and aggregate rows/s by
// number of concurrent users, endpoint next to psql \copy. Opens in any browser.
import type { BenchReport } from './report-types';

const WIDTH = 960;
const LABEL_W = 330;
const BAR_H = 22;
const GAP = 8;
const COLORS = {
  baseline: '#8c8c8c',
  direct: '#3b73b9',
  endpoint: '#e07b22',
  grid: '#e3e3e3',
  text: '#222',
  bad: '#c0392b',
};

export function escapeXml(s: string): string {
  return s.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!,
  );
}

const fmt = (v: number) =>
  v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : `${Math.round(v)}`;

/** A round axis maximum at or above `v` (1, 2, 2.5, 5 × 10^k). */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

interface Bar {
  label: string;
  value: number;
  color: string;
  note?: string;
}

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${x}" y="${y}" ${attrs}>${escapeXml(s)}</text>`;
}

function axis(x0: number, y0: number, w: number, h: number, max: number): string[] {
  const out: string[] = [];
  for (let i = 0; i <= 5; i++) {
    const x = x0 + (w * i) / 5;
    out.push(`<line x1="${x}" y1="${y0}" x2="${x}" y2="${y0 + h}" stroke="${COLORS.grid}"/>`);
    out.push(text(x, y0 + h + 14, fmt((max * i) / 5), 'font-size="11" text-anchor="middle" fill="#666"'));
  }
  return out;
}

function barPanel(title: string, bars: Bar[], y: number): { svg: string[]; height: number } {
  const out: string[] = [text(16, y + 18, title, 'font-size="15" font-weight="bold"')];
  const x0 = LABEL_W;
  const w = WIDTH - LABEL_W - 200;
  const top = y + 32;
  const h = bars.length * (BAR_H + GAP);
  const max = niceMax(Math.max(...bars.map((b) => b.value), 1));
  out.push(...axis(x0, top, w, h, max));
  bars.forEach((b, i) => {
    const by = top + i * (BAR_H + GAP);
    const bw = Math.max(1, (b.value / max) * w);
    out.push(text(x0 - 8, by + BAR_H * 0.7, b.label, 'font-size="12" text-anchor="end"'));
    out.push(
      `<rect x="${x0}" y="${by}" width="${bw.toFixed(1)}" height="${BAR_H}" fill="${b.color}" rx="2"/>`,
    );
    const label = `${fmt(b.value)} rows/s${b.note ? `  ${b.note}` : ''}`;
    out.push(text(x0 + bw + 6, by + BAR_H * 0.7, label, 'font-size="12"'));
  });
  return { svg: out, height: 32 + h + 28 };
}

function scalingPanel(r: BenchReport, y: number): { svg: string[]; height: number } {
  const rows = r.scaling;
  const out: string[] = [
    text(
      16,
      y + 18,
      'Concurrent uploads: aggregate rows/s by N (endpoint vs N parallel psql \\copy)',
      'font-size="15" font-weight="bold"',
    ),
  ];
  if (rows.length === 0) return { svg: out, height: 40 };
  const x0 = 90;
  const w = WIDTH - x0 - 40;
  const top = y + 40;
  const h = 240;
  const max = niceMax(
    Math.max(...rows.flatMap((s) => [s.endpoint.aggregateRowsPerSec, s.psql.aggregateRowsPerSec])),
  );
  for (let i = 0; i <= 5; i++) {
    const gy = top + h - (h * i) / 5;
    out.push(`<line x1="${x0}" y1="${gy}" x2="${x0 + w}" y2="${gy}" stroke="${COLORS.grid}"/>`);
    out.push(text(x0 - 8, gy + 4, fmt((max * i) / 5), 'font-size="11" text-anchor="end" fill="#666"'));
  }
  const group = w / rows.length;
  const bw = Math.min(60, group / 3);
  rows.forEach((s, i) => {
    const cx = x0 + group * (i + 0.5);
    const pairs: [number, string][] = [
      [s.endpoint.aggregateRowsPerSec, COLORS.endpoint],
      [s.psql.aggregateRowsPerSec, COLORS.baseline],
    ];
    pairs.forEach(([v, color], j) => {
      const bh = (v / max) * h;
      const bx = cx - bw + j * bw;
      out.push(
        `<rect x="${bx.toFixed(1)}" y="${(top + h - bh).toFixed(1)}" width="${(bw - 4).toFixed(1)}" height="${bh.toFixed(1)}" fill="${color}" rx="2"/>`,
      );
      out.push(text(bx + (bw - 4) / 2, top + h - bh - 4, fmt(v), 'font-size="10" text-anchor="middle"'));
    });
    out.push(
      text(cx, top + h + 16, `N = ${s.users}`, 'font-size="12" text-anchor="middle" font-weight="bold"'),
    );
    out.push(text(cx, top + h + 31, `${s.ratio.toFixed(2)}× psql`, 'font-size="11" text-anchor="middle"'));
    out.push(
      text(
        cx,
        top + h + 45,
        `p50/user ${(s.endpoint.perUploadMs.p50 / 1000).toFixed(1)} s`,
        'font-size="11" text-anchor="middle" fill="#555"',
      ),
    );
    const fa = s.endpoint.firstAcceptedMs;
    if (fa && fa.n > 0) {
      const late = fa.p95 >= 1000;
      out.push(
        text(
          cx,
          top + h + 59,
          `first byte p95 ${(fa.p95 / 1000).toFixed(2)} s`,
          `font-size="11" text-anchor="middle" fill="${late ? COLORS.bad : '#555'}"`,
        ),
      );
    }
    if (s.endpoint.errors > 0) {
      out.push(
        text(
          cx,
          top + h + 73,
          `${s.endpoint.errors} errors`,
          `font-size="11" text-anchor="middle" fill="${COLORS.bad}" font-weight="bold"`,
        ),
      );
    }
  });
  const ly = top + h + 86;
  out.push(
    `<rect x="${x0}" y="${ly}" width="12" height="12" fill="${COLORS.endpoint}"/>`,
    text(x0 + 18, ly + 10, `endpoint (${rows[0].format}, through PgBouncer)`, 'font-size="12"'),
  );
  out.push(
    `<rect x="${x0 + 300}" y="${ly}" width="12" height="12" fill="${COLORS.baseline}"/>`,
    text(x0 + 318, ly + 10, 'N parallel psql \\copy (direct)', 'font-size="12"'),
  );
  return { svg: out, height: 40 + h + 108 };
}

export function renderChart(r: BenchReport): string {
  const parts: string[] = [];
  let y = 10;
  const title = `db-powerhouse ingest benchmark · ${r.machine.cores} cores, ${r.machine.ramGiB} GiB · ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC`;
  parts.push(text(16, y + 16, title, 'font-size="17" font-weight="bold"'));
  y += 30;
  const ratio = (v: number | null) => (v === null ? '' : `(${v.toFixed(2)}× psql)`);
  if (r.methods.length) {
    const bars: Bar[] = r.methods.map((m) => ({
      label: m.label,
      value: m.rowsPerSec,
      color: m.id.startsWith('psql') ? COLORS.baseline : COLORS.direct,
      note: ratio(m.ratioToPsql),
    }));
    const p = barPanel(
      `Direct to PostgreSQL: rows/s by method (${r.methods[0].rows.toLocaleString('en')} rows)`,
      bars,
      y,
    );
    parts.push(...p.svg);
    y += p.height;
  }
  if (r.single.uploads.length) {
    const bars: Bar[] = [];
    if (r.single.baseline)
      bars.push({
        label: 'psql \\copy (text, baseline)',
        value: r.single.baseline.rowsPerSec,
        color: COLORS.baseline,
      });
    for (const u of r.single.uploads)
      bars.push({ label: u.label, value: u.rowsPerSec, color: COLORS.endpoint, note: ratio(u.ratioToPsql) });
    const p = barPanel(
      `One upload through the worker + PgBouncer (${r.single.uploads[0].rows.toLocaleString('en')} rows)`,
      bars,
      y,
    );
    parts.push(...p.svg);
    y += p.height;
  }
  const s = scalingPanel(r, y);
  parts.push(...s.svg);
  y += s.height;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" font-family="Helvetica, Arial, sans-serif" fill="${COLORS.text}">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

// One status → the page's sections. Every reading replaces the sections' rows; cells carry the raw value in
// data-value (what a script or the browser test compares), the text is for people.
import type {
  AdminStatus,
  DatabaseStatus,
  LiveUpload,
  PgBouncerStatus,
  SectionError,
  WorkerStatus,
} from '../../status/types';
import type { ThroughputChart } from './chart';
import { byId, el, setRows } from './dom';
import * as fmt from './format';

const isError = (s: object): s is SectionError =>
  'error' in s && typeof (s as SectionError).error === 'string';

function cell(
  field: string,
  text: string,
  value?: string | number | null,
  cls?: string,
): HTMLTableCellElement {
  return el(
    'td',
    { 'data-field': field, 'data-value': value === undefined ? undefined : String(value), class: cls },
    text,
  );
}

function card(label: string, value: string, field: string, title?: string): HTMLElement {
  return el(
    'div',
    { class: 'card', 'data-card': field, title },
    el('span', { class: 'label' }, label),
    el('span', { class: 'value' }, value),
  );
}

function progress(u: LiveUpload): HTMLElement {
  const bar = el('progress', { 'aria-label': `upload ${u.uploadId}` });
  if (u.state === 'committing') {
    bar.max = 1;
    bar.value = 1;
  } else if (u.bytesTotal !== null && u.bytesTotal > 0) {
    bar.max = u.bytesTotal;
    bar.value = Math.min(u.bytes, u.bytesTotal);
  } // else: no value attribute, an indeterminate bar (a chunked body has no total)
  const pct = u.bytesTotal
    ? `${Math.floor((100 * Math.min(u.bytes, u.bytesTotal)) / u.bytesTotal)} %`
    : fmt.bytes(u.bytes);
  return el(
    'div',
    { class: 'bar' },
    bar,
    el('span', { class: 'pct' }, u.state === 'queued' || u.state === 'committing' ? u.state : pct),
  );
}

function renderSummary(s: AdminStatus): void {
  const w = s.worker;
  const last = w.throughput.samples[w.throughput.samples.length - 1];
  const db = isError(s.database) ? null : s.database;
  const cards = [
    card('uploads in flight', `${w.uploadsInFlight} / ${w.maxConcurrentUploads}`, 'in-flight'),
    card(
      'COPYs running',
      `${w.copyTurns.running} / ${w.copyTurns.limit}, ${w.copyTurns.waiting} queued`,
      'copy-turns',
      'uploads beyond the limit wait their turn before their transaction',
    ),
    card('rows/s now', fmt.count(last?.rowsPerSecond ?? 0), 'rows-per-second'),
    card('MiB/s now', ((last?.bytesPerSecond ?? 0) / 1048576).toFixed(2), 'mib-per-second'),
    card(
      'queue wait p95',
      w.queueWaitP95Seconds === null ? '–' : `${(w.queueWaitP95Seconds * 1000).toFixed(0)} ms`,
      'queue-wait',
      'request to transaction begun, last 15 minutes',
    ),
  ];
  if (db) {
    cards.push(card('connections', `${db.connections.total} / ${db.maxConnections}`, 'connections'));
    cards.push(card('database size', fmt.bytes(db.databaseBytes), 'database-size'));
    cards.push(
      card('WAL', db.walBytesPerSecond === null ? '–' : `${fmt.bytes(db.walBytesPerSecond)}/s`, 'wal-rate'),
    );
  }
  if (s.backup)
    cards.push(
      card(
        'last backup',
        s.backup.lastGoodBackupAgeSeconds === null
          ? 'none'
          : `${fmt.duration(s.backup.lastGoodBackupAgeSeconds)} ago`,
        'backup',
        `${s.backup.status}: ${s.backup.message}`,
      ),
    );
  byId('summary').replaceChildren(...cards);
}

function renderLive(w: WorkerStatus): void {
  setRows(
    'live',
    w.live.map((u) =>
      el(
        'tr',
        { 'data-upload-id': u.uploadId },
        cell('token', u.token),
        cell('table', u.table),
        cell('state', u.state),
        el('td', { 'data-field': 'progress', class: 'progress-col' }, progress(u)),
        cell('rows', fmt.count(u.rows), u.rows, 'num'),
        cell(
          'bytes',
          u.bytesTotal === null ? fmt.bytes(u.bytes) : `${fmt.bytes(u.bytes)} / ${fmt.bytes(u.bytesTotal)}`,
          u.bytes,
          'num',
        ),
        cell('rows-per-second', fmt.count(u.rowsPerSecond), u.rowsPerSecond, 'num'),
        cell('elapsed', fmt.duration(u.elapsedSeconds), u.elapsedSeconds, 'num'),
      ),
    ),
  );
  byId('live-empty').hidden = w.live.length > 0;
}

const kinds = (byKind: Readonly<Record<string, number>>) =>
  Object.entries(byKind)
    .map(([k, n]) => `${k} ×${n}`)
    .join(', ');

function renderLastHour(s: AdminStatus): void {
  const w = s.worker.lastHour;
  const db = isError(s.database) ? null : s.database.lastHour;
  byId('lasthour-db').textContent = db
    ? `All workers: ${db.committed} committed (${fmt.count(db.rows)} rows, ${fmt.bytes(db.bytes)}), ${db.failed} failed${db.failed ? `: ${kinds(db.failedByKind)}` : ''}.`
    : 'All workers: the database could not be read.';
  byId('lasthour-worker').textContent =
    `This worker: ${w.committed} committed, ${w.failed} failed${w.failed ? `: ${kinds(w.failedByKind)}` : ''} (its memory, which also holds failures the database has no record of).`;
  setRows(
    'finished',
    w.recent.map((f) => {
      const kind = f.error ? String(f.error.error ?? '') : '';
      const message = f.error && typeof f.error.message === 'string' ? f.error.message : '';
      return el(
        'tr',
        { 'data-upload-id': f.uploadId, class: f.state === 'failed' ? 'failed' : undefined },
        cell('finished', fmt.clock(f.finishedAt), f.finishedAt),
        cell('token', f.token),
        cell('table', f.table),
        cell('state', f.state),
        cell('rows', fmt.count(f.rows), f.rows, 'num'),
        cell('bytes', fmt.bytes(f.bytes), f.bytes, 'num'),
        el(
          'td',
          { 'data-field': 'error', 'data-value': kind, class: 'err' },
          kind ? el('strong', {}, kind) : '',
          message ? ` ${message}` : '',
        ),
      );
    }),
  );
}

const num = (row: Record<string, string | number | null>, k: string) => Number(row[k] ?? 0);

function renderPools(p: PgBouncerStatus | SectionError | null): void {
  const note = byId('pools-note');
  if (p === null || isError(p)) {
    note.textContent =
      p === null
        ? 'This worker has no PgBouncer admin console configured (pgbouncerAdminUrl).'
        : `PgBouncer: ${p.error}`;
    setRows('pools', []);
    return;
  }
  note.textContent = '';
  setRows(
    'pools',
    p.pools
      .filter((r) => r.database !== 'pgbouncer')
      .map((r) => {
        const maxwait = num(r, 'maxwait') + num(r, 'maxwait_us') / 1e6;
        const n = (k: string) => cell(k, fmt.count(num(r, k)), num(r, k), 'num');
        return el(
          'tr',
          { 'data-pool': `${r.database}/${r.user}`, class: num(r, 'cl_waiting') > 0 ? 'warn' : undefined },
          cell('database', String(r.database)),
          cell('user', String(r.user)),
          n('cl_active'),
          n('cl_waiting'),
          n('sv_active'),
          n('sv_idle'),
          n('sv_used'),
          cell('maxwait', `${maxwait.toFixed(3)} s`, maxwait, 'num'),
          cell('pool_mode', String(r.pool_mode ?? '')),
        );
      }),
  );
}

/** A bar of max_connections: each visible state, the hidden ones, and what is free, widths via the CSSOM. */
function connectionsBar(db: DatabaseStatus): HTMLElement {
  const parts: [string, number][] = [
    ...Object.entries(db.connections.byState).sort((a, b) => b[1] - a[1]),
    ['other roles (state not visible)', db.connections.stateHidden],
  ];
  const bar = el('div', { class: 'stack', role: 'img', 'aria-label': 'connections by state' });
  const legend = el('ul', { class: 'legend' });
  parts.forEach(([state, n], i) => {
    if (n <= 0) return;
    const seg = el('span', { class: `seg s${i % 6}`, title: `${state}: ${n}` });
    seg.style.width = `${(100 * n) / Math.max(1, db.maxConnections)}%`;
    bar.append(seg);
    legend.append(el('li', { 'data-state': state }, el('span', { class: `dot s${i % 6}` }), `${state} ${n}`));
  });
  const free = Math.max(0, db.maxConnections - db.connections.total);
  legend.append(el('li', { 'data-state': 'free' }, el('span', { class: 'dot free' }), `free ${free}`));
  return el(
    'div',
    {},
    el('p', {}, `Connections ${db.connections.total} of max_connections ${db.maxConnections}`),
    bar,
    legend,
  );
}

function renderDatabase(d: DatabaseStatus | SectionError, backup: AdminStatus['backup']): void {
  const error = byId('db-error');
  if (isError(d)) {
    error.hidden = false;
    error.textContent = `PostgreSQL: ${d.error}`;
    return;
  }
  error.hidden = true;
  byId('connections').replaceChildren(connectionsBar(d));
  const facts: [string, string, string][] = [
    ['database size', fmt.bytes(d.databaseBytes), 'database-bytes'],
    [
      'WAL rate',
      d.walBytesPerSecond === null ? '– (measuring)' : `${fmt.bytes(d.walBytesPerSecond)}/s`,
      'wal-rate',
    ],
    [
      'checkpoints',
      `${fmt.count(d.checkpoints.timed)} timed, ${fmt.count(d.checkpoints.requested)} requested (since ${d.checkpoints.statsResetAt ? fmt.clock(d.checkpoints.statsResetAt) : 'start'}); write ${fmt.duration(d.checkpoints.writeSeconds)}, sync ${fmt.duration(d.checkpoints.syncSeconds)}`,
      'checkpoints',
    ],
    [
      'oldest open transaction',
      d.oldestTransaction
        ? `${fmt.duration(d.oldestTransaction.ageSeconds)}: pid ${d.oldestTransaction.pid}, ${d.oldestTransaction.role}, ${d.oldestTransaction.state}${d.oldestTransaction.applicationName ? `, ${d.oldestTransaction.applicationName}` : ''}`
        : 'none visible',
      'oldest-transaction',
    ],
    ['backup', backup ? `${backup.status}: ${backup.message}` : 'not configured for this worker', 'backup'],
  ];
  byId('db-facts').replaceChildren(
    ...facts.flatMap(([k, v, f]) => [el('dt', {}, k), el('dd', { 'data-field': f }, v)]),
  );
  setRows(
    'tables',
    d.tables.map((t) =>
      el(
        'tr',
        { 'data-table': t.table },
        cell('table', t.table),
        cell('total-bytes', fmt.bytes(t.totalBytes), t.totalBytes, 'num'),
        cell('rows-estimate', t.rowsEstimate < 0 ? '–' : fmt.count(t.rowsEstimate), t.rowsEstimate, 'num'),
      ),
    ),
  );
}

export function render(s: AdminStatus, chart: ThroughputChart): void {
  renderSummary(s);
  chart.update(s.worker.throughput.samples);
  renderLive(s.worker);
  renderLastHour(s);
  renderPools(s.pgbouncer);
  renderDatabase(s.database, s.backup);
  const lag = (Date.parse(s.generatedAt) - Date.parse(s.readAt)) / 1000;
  byId('updated').textContent =
    `updated ${fmt.clock(s.generatedAt)} · worker pid ${s.worker.pid}` +
    (lag >= 1 ? ` · database and PgBouncer as of ${fmt.clock(s.readAt)}` : '');
  document.body.dataset.generatedAt = s.generatedAt;
}

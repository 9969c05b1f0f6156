// The pure half of backup health: WAL names and LSNs, archive lag, the archiver's failing test, and the state
// /readyz and the upload check show, with its precedence. The real archiver is in backup-health.test.ts.
import { formatBytes } from '../../config-templates/human';
import fc from 'fast-check';
import type { BackupStatus } from '../../config-templates/backup-status';
import {
  archiveLagBytes,
  archiverFailing,
  assessBackup,
  parseLsn,
  parseSettingBytes,
  walSegmentEndLsn,
  type ArchiverSample,
  type BackupInputs,
} from '../../ingest/backup-health';
import { archiverSample, type ArchiverRow } from '../../ingest/backup-monitor';
import { backupConfigSchema, type BackupConfig } from '../../ingest/config';

const MiB16 = 16n * 1024n * 1024n;

describe('LSNs and WAL file names', () => {
  it('parses LSNs as 64-bit numbers', () => {
    expect(parseLsn('0/0')).toBe(0n);
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n);
    expect(parseLsn('FFFFFFFF/FFFFFFFF')).toBe((1n << 64n) - 1n);
    for (const bad of ['', '0', '1/2/3', 'G/0', '123456789/0', ' 0/0']) expect(parseLsn(bad)).toBeNull();
  });

  it("reads wal_segment_size as current_setting() prints it (PostgreSQL's 1024-based units)", () => {
    expect(parseSettingBytes('16MB')).toBe(MiB16);
    expect(parseSettingBytes('1GB')).toBe(1024n ** 3n);
    expect(parseSettingBytes('64kB')).toBe(65536n);
    expect(parseSettingBytes('1048576')).toBe(1048576n);
    expect(parseSettingBytes('16 MiB')).toBeNull();
  });

  it('maps a segment name to the LSN just past it; history files name none', () => {
    expect(walSegmentEndLsn('000000010000000000000001', MiB16)).toBe(0x2000000n);
    // The last segment of log 1 ends where log 2 starts.
    expect(walSegmentEndLsn('0000000100000001000000FF', MiB16)).toBe(2n << 32n);
    // Other timelines are the same LSN space.
    expect(walSegmentEndLsn('0000000700000016000000B3', MiB16)).toBe((0x16n << 32n) + 0xb4n * MiB16);
    // Backup labels and partial segments start with their segment's name.
    expect(walSegmentEndLsn('000000010000000000000003.00000028.backup', MiB16)).toBe(0x4000000n);
    expect(walSegmentEndLsn('000000010000000000000003.partial', MiB16)).toBe(0x4000000n);
    // With 1 MiB segments a log holds 4096 of them.
    expect(walSegmentEndLsn('000000010000000000000100', 1n << 20n)).toBe(0x101n << 20n);
    for (const bad of [
      '00000002.history',
      '000000010000000000000100', // segment 256 does not exist with 16 MiB segments
      '00000001000000000000000',
      '0000000100000000000000010',
      '000000010000000000000001x',
      '00000001000000000000000a', // PostgreSQL writes upper case
    ])
      expect([bad, walSegmentEndLsn(bad, MiB16)]).toEqual([bad, null]);
  });

  it('a segment name and the LSN of its end agree with each other for any position (16 MiB)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - MiB16 - 1n }), (lsn) => {
        const segno = lsn / MiB16;
        const per = (1n << 32n) / MiB16;
        const hex = (n: bigint) => n.toString(16).toUpperCase().padStart(8, '0');
        const name = `00000001${hex(segno / per)}${hex(segno % per)}`;
        const end = walSegmentEndLsn(name, MiB16)!;
        return end > lsn && end - MiB16 <= lsn;
      }),
    );
  });

  it('lag is never negative', () => {
    expect(archiveLagBytes(100n, 40n)).toBe(60n);
    expect(archiveLagBytes(40n, 40n)).toBe(0n);
    expect(archiveLagBytes(30n, 40n)).toBe(0n);
  });

  it('formats sizes the way PostgreSQL prints them', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(3n * MiB16)).toBe('48.0 MiB');
    expect(formatBytes(1.2 * 1024 ** 3)).toBe('1.20 GiB');
  });
});

describe('the archiver', () => {
  const t = (s: number) => new Date(Date.UTC(2026, 11, 1, 12, 0, s));
  it('is failing when its last attempt failed, or it failed and never succeeded', () => {
    const base = { archivedCount: 5, failedCount: 0, lastArchivedAt: t(10), lastFailedAt: null };
    expect(archiverFailing(base)).toBe(false);
    expect(archiverFailing({ ...base, failedCount: 3, lastFailedAt: t(5) })).toBe(false); // recovered
    expect(archiverFailing({ ...base, failedCount: 3, lastFailedAt: t(20) })).toBe(true);
    expect(
      archiverFailing({ archivedCount: 0, failedCount: 1, lastArchivedAt: null, lastFailedAt: t(1) }),
    ).toBe(true);
    expect(
      archiverFailing({ archivedCount: 0, failedCount: 0, lastArchivedAt: null, lastFailedAt: null }),
    ).toBe(false);
  });

  it('keeps the archived position when the newest archived file is a timeline history file', () => {
    const row: ArchiverRow = {
      lsn: '0/5000060',
      segment_size: '16MB',
      archive_mode: 'on',
      archived_count: '4',
      last_archived_wal: '000000010000000000000003',
      last_archived_time: t(1),
      failed_count: '0',
      last_failed_wal: null,
      last_failed_time: null,
    };
    const first = archiverSample(row, null) as ArchiverSample;
    expect(first.archivedEndLsn).toBe(0x4000000n);
    const history = archiverSample(
      { ...row, last_archived_wal: '00000002.history' },
      first,
    ) as ArchiverSample;
    expect(history.archivedEndLsn).toBe(0x4000000n);
    expect(
      (archiverSample({ ...row, last_archived_wal: '00000002.history' }, null) as ArchiverSample)
        .archivedEndLsn,
    ).toBeNull();
    expect(
      (archiverSample({ ...row, last_archived_wal: null }, first) as ArchiverSample).archivedEndLsn,
    ).toBeNull();
    expect(archiverSample({ ...row, lsn: 'nonsense' }, null)).toEqual({
      error: expect.stringContaining('nonsense'),
    });
  });
});

describe('assessBackup', () => {
  const now = new Date('2026-12-01T12:00:00Z');
  const cfg = (over: Partial<BackupConfig> = {}): BackupConfig =>
    backupConfigSchema.parse({
      enabled: true,
      statusFile: '/run/backup.json',
      walMarginBytes: 3 * 16 * 2 ** 20,
      ...over,
    });
  const status = (over: Partial<BackupStatus> = {}): BackupStatus => ({
    version: 1,
    checkedAt: '2026-12-01T11:59:30Z',
    stanza: 'powerhouse',
    repository: 's3:powerhouse-backups (fsn1)',
    reachable: true,
    error: null,
    lastGood: {
      label: '20261201-010000F',
      type: 'full',
      startedAt: '2026-12-01T01:00:00Z',
      stoppedAt: '2026-12-01T01:10:00Z',
      sizeBytes: 1e9,
      repoSizeBytes: 2e8,
      walStart: '000000010000000000000010',
      walStop: '000000010000000000000011',
    },
    backupCount: 1,
    walMin: '000000010000000000000010',
    walMax: '000000010000000000000020',
    backupRunning: false,
    ...over,
  });
  const archiver = (over: Partial<ArchiverSample> = {}): ArchiverSample => ({
    currentLsn: 0x21000100n,
    archiveMode: 'on',
    archivedCount: 20,
    lastArchivedWal: '000000010000000000000020',
    lastArchivedAt: new Date('2026-12-01T11:59:00Z'),
    failedCount: 0,
    lastFailedWal: null,
    lastFailedAt: null,
    archivedEndLsn: 0x21000000n,
    ...over,
  });
  const inputs = (over: Partial<BackupInputs> = {}): BackupInputs => ({
    file: { ok: true, status: status() },
    archiver: archiver(),
    polledAt: now,
    ...over,
  });
  const failing = {
    failedCount: 3,
    lastFailedWal: '000000010000000000000021',
    lastFailedAt: new Date('2026-12-01T11:59:50Z'),
  };
  const atMargin = { currentLsn: 0x21000000n + 3n * MiB16 };

  it('ok: the last good backup, its age and the lag', () => {
    const r = assessBackup(cfg(), inputs(), now);
    expect(r).toEqual({
      status: 'ok',
      message:
        'last good backup 20261201-010000F (full) 11 h ago in s3:powerhouse-backups (fsn1); WAL archive lag 256 B',
      lastGoodBackupAt: '2026-12-01T01:10:00Z',
      lastGoodBackupAgeSeconds: 39_000,
      archiveLagBytes: 256,
      walMarginBytes: 50_331_648,
      archiveFailing: false,
      lastArchivedAt: '2026-12-01T11:59:00.000Z',
      lastFailedAt: null,
      repository: 's3:powerhouse-backups (fsn1)',
      checkedAt: '2026-12-01T11:59:30Z',
      statusAgeSeconds: 30,
      polledAt: '2026-12-01T12:00:00.000Z',
    });
  });

  it('refusing > failing > stale > no_backup > ok', () => {
    const old = { ok: true as const, status: status({ checkedAt: '2026-12-01T11:00:00Z', lastGood: null }) };
    const all = inputs({ file: old, archiver: archiver({ ...failing, ...atMargin }) });
    expect(assessBackup(cfg(), all, now).status).toBe('refusing');
    expect(assessBackup(cfg(), { ...all, archiver: archiver(failing) }, now).status).toBe('failing');
    expect(assessBackup(cfg(), { ...all, archiver: archiver() }, now).status).toBe('stale');
    const fresh = { ok: true as const, status: status({ lastGood: null }) };
    expect(assessBackup(cfg(), inputs({ file: fresh }), now).status).toBe('no_backup');
  });

  it('refusing says how much WAL waits, the limit, why, and that uploads resume', () => {
    const r = assessBackup(cfg(), inputs({ archiver: archiver({ ...failing, ...atMargin }) }), now);
    expect(r.status).toBe('refusing');
    expect(r.archiveLagBytes).toBe(3 * 16 * 2 ** 20);
    expect(r.message).toBe(
      'uploads paused: 48.0 MiB of WAL wait to be archived (limit 48.0 MiB) because the backup repository is not taking them ' +
        '(archive_command: 3 failed attempts, the last for 000000010000000000000021 at 2026-12-01T11:59:50.000Z); ' +
        'uploads resume once the archive catches up',
    );
    // One byte under the margin: still taking uploads, but failing.
    const under = archiver({ ...failing, currentLsn: atMargin.currentLsn - 1n });
    expect(assessBackup(cfg(), inputs({ archiver: under }), now).status).toBe('failing');
  });

  it('failing: the archiver, an unreachable repository, archive_mode off', () => {
    const a = assessBackup(cfg(), inputs({ archiver: archiver(failing) }), now);
    expect(a).toMatchObject({
      status: 'failing',
      archiveFailing: true,
      lastFailedAt: '2026-12-01T11:59:50.000Z',
    });
    expect(a.message).toMatch(
      /^WAL archiving is failing \(archive_command: 3 failed attempts, the last for 0{7}10{14}21 at .*\): 256 B of WAL wait, uploads pause at 48.0 MiB; check /,
    );
    const unreachable = {
      ok: true as const,
      status: status({ reachable: false, error: 'connection timed out' }),
    };
    expect(assessBackup(cfg(), inputs({ file: unreachable }), now).message).toBe(
      'the backup repository s3:powerhouse-backups (fsn1) is unreachable: connection timed out; check its address, credentials and the network',
    );
    // With archive_mode off the last archived name is history: no lag, no refusal.
    const off = assessBackup(cfg(), inputs({ archiver: archiver({ archiveMode: 'off', ...atMargin }) }), now);
    expect(off).toMatchObject({ status: 'failing', archiveLagBytes: null });
    expect(off.message).toMatch(/^archive_mode is off: /);
  });

  it('stale: an old, missing, unreadable or invalid status file', () => {
    const old = { ok: true as const, status: status({ checkedAt: '2026-12-01T11:50:00Z' }) };
    const r = assessBackup(cfg(), inputs({ file: old }), now);
    expect(r).toMatchObject({
      status: 'stale',
      statusAgeSeconds: 600,
      lastGoodBackupAt: '2026-12-01T01:10:00Z',
    });
    expect(r.message).toMatch(
      /^the backup status is 600 s old \(limit 180 s, last written 2026-12-01T11:50:00Z\)/,
    );
    const missing = assessBackup(
      cfg(),
      inputs({ file: { ok: false, problem: 'missing', detail: 'no such file' } }),
      now,
    );
    expect(missing).toMatchObject({
      status: 'stale',
      repository: null,
      checkedAt: null,
      lastGoodBackupAt: null,
    });
    expect(missing.message).toMatch(
      /^backup health unknown: backup status file \/run\/backup.json does not exist; check /,
    );
    const invalid = { ok: false as const, problem: 'invalid' as const, detail: 'not JSON' };
    expect(assessBackup(cfg(), inputs({ file: invalid }), now).message).toContain(
      'is not a valid status (not JSON)',
    );
  });

  it('unprotected says so with the reason, and the disk margin still holds', () => {
    const off = cfg({ enabled: false, reason: 'no backup repository configured: set backup_repository' });
    expect(assessBackup(off, inputs({ file: null }), now)).toMatchObject({
      status: 'unprotected',
      message: 'this deployment keeps no backups: no backup repository configured: set backup_repository',
    });
    expect(assessBackup(off, inputs({ file: null, archiver: archiver(atMargin) }), now).status).toBe(
      'refusing',
    );
  });

  it('without a probe on the target: the archiver alone; lag unknown before anything is archived', () => {
    const r = assessBackup(cfg({ statusFile: undefined }), inputs({ file: null }), now);
    expect(r).toMatchObject({ status: 'ok', lastGoodBackupAt: null, repository: null });
    expect(r.message).toContain('this target has no backup-status probe');
    const none = archiver({
      archivedCount: 0,
      lastArchivedWal: null,
      lastArchivedAt: null,
      archivedEndLsn: null,
    });
    expect(assessBackup(cfg(), inputs({ archiver: none }), now)).toMatchObject({
      status: 'ok',
      archiveLagBytes: null,
    });
  });

  it('a failed pg_stat_archiver query is said, not guessed', () => {
    const r = assessBackup(cfg(), inputs({ archiver: { error: 'Connection terminated' } }), now);
    expect(r).toMatchObject({ status: 'ok', archiveLagBytes: null, archiveFailing: false });
    expect(r.message).toMatch(/; WAL archive state unknown \(pg_stat_archiver: Connection terminated\)$/);
  });
});

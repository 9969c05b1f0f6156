// Which backup a time restore starts from: pgBackRest keeps stop times in whole seconds and takes a set for a time
// target only if it stopped in an earlier second, so a target in a backup's own stop second must choose an older set
// or be refused (CI once restored to 16:07:21.951 from a backup stopped at 16:07:21: pgBackRest found no set).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { backupProfileSchema } from '../../stacks/backup/profile';
import { planRestore, restorableFrom, RestoreRefused } from '../../stacks/backup/restore';
import type { StanzaInfo } from '../../stacks/backup/pgbackrest';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-plan-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const profile = backupProfileSchema.parse({
  pgbackrest: {},
  postgres: {
    binDir: '/usr/lib/postgresql/16/bin',
    dataDir: path.join(root, 'live'),
    port: 5432,
    socketDir: root,
    startCommand: 'start',
    stopCommand: 'stop',
  },
  statusFile: path.join(root, 'status.json'),
  repository: 'posix /repo',
});

const set = (label: string, stoppedAt: string) => ({
  label,
  type: 'full' as const,
  startedAt: stoppedAt,
  stoppedAt,
  sizeBytes: 1,
  repoSizeBytes: 1,
  walStart: null,
  walStop: null,
});
const info: StanzaInfo = {
  code: 0,
  message: 'ok',
  repoMessage: null,
  backups: [set('20261201-100000F', '2026-12-01T10:00:05Z'), set('20261201-110000F', '2026-12-01T11:00:05Z')],
  walMin: null,
  walMax: null,
  backupRunning: false,
  progress: null,
};
const now = new Date('2026-12-01T12:00:00Z');
let n = 0;
const plan = (time: string, extra: { set?: string } = {}) =>
  planRestore(
    profile,
    {
      target: { kind: 'time', time: new Date(time) },
      targetDir: path.join(root, `copy-${n++}`),
      inPlace: false,
      ...extra,
    },
    info,
    now,
  );

test('a backup serves targets from the second after its stop second', () => {
  expect(restorableFrom({ stoppedAt: '2026-12-01T11:00:05Z' }).toISOString()).toBe(
    '2026-12-01T11:00:06.000Z',
  );
  expect(restorableFrom({ stoppedAt: '2026-12-01T11:00:05.400Z' }).toISOString()).toBe(
    '2026-12-01T11:00:06.000Z',
  );
});

test('the set named to pgBackRest is the newest that stopped in an earlier second than the target', () => {
  const cases: [string, string][] = [
    ['2026-12-01T11:00:05.951Z', '20261201-100000F'], // in the newer backup's stop second: the older one
    ['2026-12-01T11:00:06.000Z', '20261201-110000F'],
    ['2026-12-01T10:30:00Z', '20261201-100000F'],
  ];
  for (const [time, label] of cases) {
    const p = plan(time);
    expect({ time, from: p.from.label, set: p.args.filter((a) => a.startsWith('--set=')) }).toEqual({
      time,
      from: label,
      set: [`--set=${label}`],
    });
  }
});

test('a target in the first backup stop second is refused with the earliest restorable moment', () => {
  expect(() => plan('2026-12-01T10:00:05.500Z')).toThrow(RestoreRefused);
  expect(() => plan('2026-12-01T10:00:05.500Z')).toThrow(
    /earliest moment this repository can restore is 2026-12-01T10:00:06.000Z/,
  );
  expect(() => plan('2026-12-01T11:00:05.500Z', { set: '20261201-110000F' })).toThrow(
    /before backup 20261201-110000F ended .*restorable from 2026-12-01T11:00:06.000Z/,
  );
});

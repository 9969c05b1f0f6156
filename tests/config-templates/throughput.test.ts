// The load-time model of `powerhouse plan --within`: its arithmetic, its calibration read from the committed
// bench:schema result (the real file), and what the plan and the CLI say when no single server is fast enough.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { plan } from '../../config-templates';
import { calibrationFromBench, DEFAULT_CALIBRATION, estimateLoad } from '../../config-templates/throughput';

const ROOT = path.join(__dirname, '../..');
const BENCH = path.join(ROOT, 'bench/results/schema-latest.json');
const cal = {
  source: 'test',
  cores: 2,
  users: 40,
  concurrentRowsPerSecond: 200_000,
  singleRowsPerSecond: 150_000,
};

describe('estimateLoad', () => {
  it('scales the per-core rate with cores, capped by one core per upload', () => {
    expect(estimateLoad(8, 40, 40e6, cal)).toEqual({ rowsPerSecond: 800_000, seconds: 50, bound: 'cores' });
    // Two uploads on 16 cores: each is one COPY backend at the single-upload rate.
    expect(estimateLoad(16, 2, 3e6, cal)).toEqual({ rowsPerSecond: 300_000, seconds: 10, bound: 'uploads' });
  });

  it('takes the committed calibration from the bench result it names', () => {
    const fromFile = calibrationFromBench(
      JSON.parse(fs.readFileSync(BENCH, 'utf8')),
      'bench/results/schema-latest.json',
    );
    expect({ ...fromFile, source: '' }).toEqual({ ...DEFAULT_CALIBRATION, source: '' });
    expect(DEFAULT_CALIBRATION.source).toContain(
      fromFile.source.replace(/^.*\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d).*$/, '$1'),
    );
    expect(() => calibrationFromBench({ users: 40 }, 'x.json')).toThrow(
      /x.json is not bench:schema's result \(measuredAt: /,
    );
  });
});

describe('plan --within', () => {
  it('marks tiers that miss the wanted time and says when no single server meets it', () => {
    const p = plan({ users: 40, rowsPerUser: 1e6, rowBytes: 200, withinSeconds: 60, calibration: cal });
    expect(p.candidates.map((c) => [c.tier, c.fits, Math.round(c.load.seconds)])).toEqual([
      ['minimum', false, 100],
      ['recommended', true, 50],
      ['powerhouse', true, 25],
    ]);
    expect(p.chosen.tier).toBe('recommended');
    expect(p.oneServerMeetsWithin).toBe(true);
    const tight = plan({ users: 40, rowsPerUser: 1e6, rowBytes: 200, withinSeconds: 10, calibration: cal });
    expect(tight.oneServerMeetsWithin).toBe(false);
    expect(tight.candidates.every((c) => !c.fits)).toBe(true);
    expect(tight.loadAssumptions.join('\n')).toMatch(/NOT measured above 2 cores/);
  });

  it('the CLI prints the load time per tier, the verdict and its assumptions; bad flags exit 2', () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [path.join(ROOT, 'bin/powerhouse.js'), 'plan', ...args], {
        encoding: 'utf8',
      });
    const r = run('--users', '40', '--rows', '1000000', '--within', '5s');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/minimum\s+CCX23.*\bno\b\s+~\d+ s \(\d+k rows\/s\)/);
    expect(r.stdout).toContain('within 5 s: NO single server meets it at the calibrated rate');
    expect(r.stdout).toContain('load time assumes:');
    const bad = run('--within', 'soon');
    expect([bad.status, bad.stderr]).toEqual([
      2,
      expect.stringContaining('--within must be a time such as 30s'),
    ]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-cal-'));
    try {
      fs.writeFileSync(path.join(dir, 'c.json'), '{"users": 40}');
      const wrong = run('--calibration', path.join(dir, 'c.json'));
      expect([wrong.status, wrong.stderr]).toEqual([
        2,
        expect.stringContaining("is not bench:schema's result"),
      ]);
      // A faster tier measured: the model follows the calibration it is given.
      const own = JSON.parse(fs.readFileSync(BENCH, 'utf8'));
      own.machine.cores = 16;
      fs.writeFileSync(path.join(dir, 'tier.json'), JSON.stringify(own));
      const out = execFileSync(
        process.execPath,
        [path.join(ROOT, 'bin/powerhouse.js'), 'plan', '--calibration', path.join(dir, 'tier.json')],
        { encoding: 'utf8' },
      );
      expect(out).toMatch(/calibrated by .*tier\.json .* on 16 cores/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

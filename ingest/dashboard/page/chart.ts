// The throughput chart: uPlot (bundled from the uplot package), rows/s and MiB/s of this worker over the
// last 15 minutes on two axes. Sized to its container, so it fits a 390 px phone as well as a laptop.
import uPlot from 'uplot';
import type { ThroughputSample } from '../../status/types';

const HEIGHT = 220;
const MIB = 1024 * 1024;

export class ThroughputChart {
  private plot: uPlot | undefined;

  constructor(private readonly host: HTMLElement) {
    new ResizeObserver(() => this.resize()).observe(host);
  }

  update(samples: readonly ThroughputSample[]): void {
    const data: uPlot.AlignedData = [
      samples.map((s) => s.t / 1000),
      samples.map((s) => s.rowsPerSecond),
      samples.map((s) => s.bytesPerSecond / MIB),
    ];
    if (!this.plot) this.plot = new uPlot(this.options(), data, this.host);
    else this.plot.setData(data);
  }

  private width(): number {
    return Math.max(200, Math.floor(this.host.clientWidth));
  }

  private resize(): void {
    this.plot?.setSize({ width: this.width(), height: HEIGHT });
  }

  private options(): uPlot.Options {
    return {
      width: this.width(),
      height: HEIGHT,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true },
        rows: { auto: true, range: (_u, _min, max) => [0, Math.max(1, max)] },
        mib: { auto: true, range: (_u, _min, max) => [0, Math.max(0.1, max)] },
      },
      axes: [
        {},
        { scale: 'rows', label: 'rows/s', size: 70 },
        { scale: 'mib', label: 'MiB/s', side: 1, grid: { show: false }, size: 50 },
      ],
      series: [
        {},
        {
          label: 'rows/s',
          scale: 'rows',
          stroke: '#2563eb',
          width: 2,
          value: (_u, v) => (v === null ? '–' : Math.round(v).toLocaleString('en-US')),
        },
        {
          label: 'MiB/s',
          scale: 'mib',
          stroke: '#d97706',
          width: 2,
          value: (_u, v) => (v === null ? '–' : v.toFixed(2)),
        },
      ],
    };
  }
}

// Redraws the Markdown and SVG of saved runs from their JSON (after a change to the report layout):
//   npx tsx bench/render-report.ts bench/results/<date>-<host>.json [more.json …]
import fs from 'node:fs';
import path from 'node:path';
import { renderMarkdown } from './report-markdown';
import { renderChart } from './report-svg';
import type { BenchReport } from './report-types';

export function rerender(jsonFile: string): string[] {
  const report = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as BenchReport;
  if (report.version !== 1) throw new Error(`${jsonFile}: not a version 1 benchmark report`);
  const base = jsonFile.replace(/\.json$/, '');
  const svgFile = `${base}.svg`;
  fs.writeFileSync(svgFile, renderChart(report));
  fs.writeFileSync(`${base}.md`, renderMarkdown(report, path.basename(svgFile)));
  return [`${base}.md`, svgFile];
}

if (require.main === module) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    process.stderr.write('usage: tsx bench/render-report.ts <report.json> [...]\n');
    process.exit(2);
  }
  for (const f of files) process.stdout.write(`${rerender(f).join('\n')}\n`);
}

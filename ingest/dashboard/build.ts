// Builds the dashboard's browser code (page/main.ts with uPlot and the stylesheets) into one script and one
// stylesheet with esbuild; the page itself is page/index.html as written.
import fs from 'node:fs';
import path from 'node:path';
import { buildSync } from 'esbuild';
import type { DashboardAssets } from './assets';

export const PAGE_DIR = path.join(__dirname, 'page');

export function buildDashboardAssets(): DashboardAssets {
  const result = buildSync({
    entryPoints: [path.join(PAGE_DIR, 'main.ts')],
    bundle: true,
    write: false,
    outdir: path.join(PAGE_DIR, 'out'), // names the outputs; nothing is written
    format: 'iife',
    platform: 'browser',
    target: ['chrome100', 'firefox100', 'safari15'],
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const output = (ext: string) => {
    const f = result.outputFiles.find((o) => o.path.endsWith(ext));
    if (!f) throw new Error(`the dashboard build made no ${ext} file`);
    return f.text;
  };
  return {
    html: fs.readFileSync(path.join(PAGE_DIR, 'index.html'), 'utf8'),
    js: output('.js'),
    css: output('.css'),
  };
}

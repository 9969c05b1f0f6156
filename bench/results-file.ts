// Where every bench leaves its report: bench/results/<name>.md (for people) and <name>.json (for scripts and
// `powerhouse plan --calibration`), printed too.
import fs from 'node:fs';
import path from 'node:path';

export const RESULTS_DIR = path.join(__dirname, 'results');

export function writeResults(name: string, markdown: string, json: unknown): void {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const md = markdown.endsWith('\n') ? markdown : `${markdown}\n`;
  fs.writeFileSync(path.join(RESULTS_DIR, `${name}.md`), md);
  fs.writeFileSync(path.join(RESULTS_DIR, `${name}.json`), `${JSON.stringify(json, null, 2)}\n`);
  process.stdout.write(md);
}

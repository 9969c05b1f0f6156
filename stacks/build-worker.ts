// `tsx stacks/build-worker.ts OUTDIR`: writes OUTDIR/ingest-worker.js, the worker as one file. Used by the
// Dockerfile, so the image runs exactly the bundle a Hetzner host gets.
import { buildWorkerBundle } from './worker-bundle';

const out = process.argv[2];
if (!out) {
  process.stderr.write('usage: tsx stacks/build-worker.ts OUTDIR\n');
  process.exit(2);
}
const b = buildWorkerBundle(out);
process.stdout.write(`${b.file}: ${b.bytes} bytes, sha256 ${b.sha256}\n`);

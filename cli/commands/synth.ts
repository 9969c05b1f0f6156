// `powerhouse synth`: the four cdktf stacks as Terraform JSON, offline, without the cdktf CLI.
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';

export function synthCommand(): Command {
  return new Command('synth')
    .description('write Terraform JSON for minimum, recommended, powerhouse (Hetzner) and local (Docker)')
    .option('--out <dir>', 'output directory (cdktf layout: stacks/<name>/cdk.tf.json)', 'cdktf.out')
    .action((o: { out: string }) => {
      process.env.CHECKPOINT_DISABLE ??= '1';
      // Loaded here: cdktf and esbuild are heavy and only synth needs them.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { buildApp } = require('../../stacks/app') as typeof import('../../stacks/app');
      const outdir = path.resolve(o.out);
      buildApp({ outdir }).synth();
      for (const name of fs.readdirSync(path.join(outdir, 'stacks')).sort()) {
        const file = path.join(outdir, 'stacks', name, 'cdk.tf.json');
        process.stdout.write(
          `${name.padEnd(12)} ${file} (${(fs.statSync(file).size / 1024).toFixed(0)} KiB)\n`,
        );
      }
      process.stdout.write(
        `\napply one with: cd ${path.join(o.out, 'stacks', '<name>')} && terraform init && terraform apply (or tofu)\n`,
      );
    });
}

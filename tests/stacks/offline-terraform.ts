// The real terraform binary on configurations that need no provider (variables, locals, outputs: the
// synthesized expressions), isolated from the machine's own Terraform setup and the network.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const TERRAFORM = ['/usr/local/bin/terraform', '/usr/bin/terraform'].find((p) => fs.existsSync(p));

/** `terraform ARGS` in `dir` with an empty CLI config there, no checkpoint calls, automation output. */
export function offlineTerraform(
  dir: string,
  args: string[],
): { status: number | null; stdout: string; stderr: string } {
  const rc = path.join(dir, 'terraformrc');
  if (!fs.existsSync(rc)) fs.writeFileSync(rc, '');
  const r = spawnSync(TERRAFORM ?? 'terraform', args, {
    cwd: dir,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      CHECKPOINT_DISABLE: '1',
      TF_IN_AUTOMATION: '1',
      TF_CLI_CONFIG_FILE: rc,
    },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

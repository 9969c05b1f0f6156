// The privilege suite against the local process stack, through its own code path (startLocalStack: the
// bootstrap runner, the owner's migrate step, PgBouncer, the worker), after one upload through the worker.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { customTier } from '../../config-templates';
import { startLocalStack, type LocalStack } from '../../stacks/local-processes/stack';
import { stopAllTestServers } from '../harness';
import { describePrivileges, localStackTarget, type PrivilegeTarget } from './privilege-suite';

let stack: LocalStack;
let dataDir: string;
let target: PrivilegeTarget;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-priv-local-'));
  stack = await startLocalStack({
    dataDir,
    tier: customTier({ cores: 2, ramMiB: 4096, disk: 'ssd' }, 4),
    ingestPort: 0,
    bouncerPort: 0,
    logLevel: 'silent',
  });
  const res = await fetch(`${stack.ingestUrl}/v1/tables/tm_entries/uploads`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${stack.token}`, 'Content-Type': 'text/csv' },
    body: 'tm_id,source,target\n1,Hello,Hallo\n1,World,Welt\n',
  });
  expect(res.status).toBe(201);
  target = localStackTarget(stack, 'local process stack', 2);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await stopAllTestServers();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

it('runs PgBouncer (the app DSN printed by npm start goes through it)', () => {
  expect(stack.bouncer).not.toBeNull();
  expect(new URL(stack.appDsn).port).toBe(String(stack.bouncer!.port));
});

describePrivileges(() => target);

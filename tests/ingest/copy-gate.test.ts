// The worker's COPY turns (ingest/copy-gate.ts): at most `limit` COPYs at once, the rest served first come first
// served, a waiter that aborts or times out leaves the queue without losing anyone else's turn, and the extra
// parts of a split upload take only turns nobody waits for.
import { CopyGate, CopyTurnTimeout } from '../../ingest/copy-gate';

const never = () => new AbortController().signal;
const tick = () => new Promise((r) => setImmediate(r));

test('serves at most `limit` at once, then in arrival order as turns come back', async () => {
  const gate = new CopyGate(2);
  const order: number[] = [];
  const releases = new Map<number, () => void>();
  const take = (n: number) =>
    gate.acquire(never(), 60_000).then((release) => {
      order.push(n);
      releases.set(n, release);
    });
  const all = [1, 2, 3, 4, 5].map(take);
  await tick();
  expect(order).toEqual([1, 2]);
  expect([gate.running, gate.waiting]).toEqual([2, 3]);
  releases.get(2)!();
  releases.get(2)!(); // twice is once: no turn is handed out twice
  await tick();
  expect(order).toEqual([1, 2, 3]);
  expect([gate.running, gate.waiting]).toEqual([2, 2]);
  releases.get(1)!();
  releases.get(3)!();
  await tick();
  expect(order).toEqual([1, 2, 3, 4, 5]);
  releases.get(4)!();
  releases.get(5)!();
  await Promise.all(all);
  expect([gate.running, gate.waiting]).toEqual([0, 0]);
});

test('a waiter that aborts leaves the queue with its reason; the next one still gets the turn', async () => {
  const gate = new CopyGate(1);
  const first = await gate.acquire(never(), 60_000);
  const ac = new AbortController();
  const aborted = gate.acquire(ac.signal, 60_000);
  const third = gate.acquire(never(), 60_000);
  expect(gate.waiting).toBe(2);
  ac.abort(new Error('client disconnected'));
  await expect(aborted).rejects.toThrow('client disconnected');
  expect(gate.waiting).toBe(1);
  first();
  const release = await third;
  expect([gate.running, gate.waiting]).toEqual([1, 0]);
  release();
  expect(gate.running).toBe(0);
  // Already aborted: refused before it queues.
  await expect(gate.acquire(ac.signal, 60_000)).rejects.toThrow('client disconnected');
  expect([gate.running, gate.waiting]).toEqual([0, 0]);
});

test('a wait past the bound is a CopyTurnTimeout naming the wait and the limit', async () => {
  const gate = new CopyGate(1);
  const held = await gate.acquire(never(), 60_000);
  const err = await gate.acquire(never(), 50).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(CopyTurnTimeout);
  expect((err as CopyTurnTimeout).waitedMs).toBeGreaterThanOrEqual(45);
  expect((err as Error).message).toMatch(/^no COPY turn within \d+ ms \(1 COPYs at a time\)$/);
  expect([gate.running, gate.waiting]).toEqual([1, 0]);
  held();
  expect(gate.running).toBe(0);
});

test('an extra part takes only a free turn nobody waits for, and gives it to the next upload', async () => {
  const gate = new CopyGate(2);
  const upload = await gate.acquire(never(), 60_000);
  expect(gate.tryTakePart()).toBe(true);
  expect([gate.running, gate.extraParts]).toEqual([2, 1]);
  expect(gate.tryTakePart()).toBe(false); // full
  let second = false;
  const waiting = gate.acquire(never(), 60_000).then((r) => ((second = true), r));
  upload();
  await tick();
  expect(second).toBe(true);
  // A turn came back but an upload took it: a part never jumps the queue.
  const third = gate.acquire(never(), 60_000);
  gate.givePart();
  const r3 = await third;
  expect(gate.tryTakePart()).toBe(false);
  expect([gate.running, gate.extraParts, gate.waiting]).toEqual([2, 0, 0]);
  (await waiting)();
  r3();
  expect(gate.running).toBe(0);
});

test('refuses a limit below 1', () => {
  expect(() => new CopyGate(0)).toThrow(RangeError);
});

// withDeadline: the one bound on a wait in the worker (upload queries, cleanup, lookups, /readyz, shutdown).
import { withDeadline } from '../../ingest/deadline';

const later = <T>(ms: number, value: T) => new Promise<T>((r) => setTimeout(() => r(value), ms));
const failLater = (ms: number, err: Error) => new Promise<never>((_, rej) => setTimeout(() => rej(err), ms));

describe('withDeadline', () => {
  it('settles like the promise when it is in time, and clears its timer', async () => {
    const set = jest.spyOn(global, 'setTimeout');
    const clear = jest.spyOn(global, 'clearTimeout');
    try {
      await expect(withDeadline(later(5, 'ok'), 10_000, () => 'late')).resolves.toBe('ok');
      await expect(withDeadline(failLater(5, new Error('boom')), 10_000, () => 'late')).rejects.toThrow(
        'boom',
      );
      const deadlines = set.mock.results
        .filter((_, i) => set.mock.calls[i][1] === 10_000)
        .map((r) => r.value);
      expect(deadlines).toHaveLength(2);
      for (const timer of deadlines) expect(clear).toHaveBeenCalledWith(timer);
    } finally {
      set.mockRestore();
      clear.mockRestore();
    }
  });

  it("past the deadline: onTimeout's value, or what it throws; a late rejection is swallowed", async () => {
    await expect(withDeadline(later(200, 'ok'), 5, () => 'late' as const)).resolves.toBe('late');
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      await expect(
        withDeadline(failLater(30, new Error('too late to matter')), 5, () => {
          throw new Error('gave up');
        }),
      ).rejects.toThrow('gave up');
      await later(60, undefined);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('an abort signal ends the wait with its reason and calls onAbort; no timer without ms', async () => {
    const ac = new AbortController();
    let aborted = 0;
    const waiting = withDeadline(later(1000, 'ok'), undefined, () => 'late', {
      signal: ac.signal,
      onAbort: () => aborted++,
    });
    ac.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    expect(aborted).toBe(1);
    await expect(
      withDeadline(later(1, 'ok'), 1000, () => 'late', { signal: ac.signal, onAbort: () => aborted++ }),
    ).rejects.toThrow('stop');
    expect(aborted).toBe(2);
  });
});

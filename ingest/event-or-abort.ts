// Waiting for a stream's event while an upload may fail: resolves on the event, rejects with the signal's
// reason (the upload's first cause of failure, not a generic AbortError as events.once would give).
export function eventOrAbort(stream: NodeJS.EventEmitter, event: string, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onEvent = () => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    };
    const onAbort = () => {
      stream.removeListener(event, onEvent);
      reject(signal.reason);
    };
    stream.once(event, onEvent);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

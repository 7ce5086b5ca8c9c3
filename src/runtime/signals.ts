/** Waiting on an AbortSignal, for the loops that run until they are told to stop. */

/** Resolves once `signal` aborts (at once if it already has); never rejects. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/**
 * Waiting in the processes that run distributed applications (routers, workers, readers): these
 * are not operators, so they poll Redis on real timers, and every wait ends early on a stop.
 */
import { setTimeout as delay } from 'node:timers/promises';

/** Resolves after `ms`, or as soon as `signal` aborts. */
export async function pause(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return;
  try {
    await delay(ms, undefined, { signal });
  } catch {
    // Aborted: the caller checks its signal.
  }
}

/** Timing, line reading and hashing shared by the benchmarks. */
import { Observable } from 'rxjs';
import { forEachLine } from './lineReader';

export interface Timing {
  /** Seconds of each timed run, in the order they ran. */
  runsSeconds: number[];
  bestSeconds: number;
  medianSeconds: number;
}

export interface Measured<R> extends Timing {
  /** What the last run returned (checked against the other variants before timing is trusted). */
  result: R;
}

/** Runs `fn` `warmups` times untimed, then `runs` times timed (a GC before each, when exposed). */
export async function measure<R>(fn: () => Promise<R> | R, runs: number, warmups = 1): Promise<Measured<R>> {
  let result: R | undefined;
  for (let i = 0; i < warmups; i++) result = await fn();
  const runsSeconds: number[] = [];
  for (let i = 0; i < runs; i++) {
    collectGarbage();
    const start = process.hrtime.bigint();
    result = await fn();
    runsSeconds.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  const sorted = [...runsSeconds].sort((a, b) => a - b);
  return { runsSeconds, bestSeconds: sorted[0], medianSeconds: sorted[Math.floor((sorted.length - 1) / 2)], result: result as R };
}

/**
 * Like {@link measure} for several variants at once, in rounds (a, b, c, a, b, c, ...): on a
 * shared machine, load and JIT state then weigh on every variant alike instead of on whichever
 * ran during a busy minute.
 */
export async function measureRounds<R>(fns: ReadonlyArray<() => Promise<R> | R>, runs: number): Promise<Measured<R>[]> {
  const results: (R | undefined)[] = [];
  for (let v = 0; v < fns.length; v++) results[v] = await fns[v](); // warm-up
  const times: number[][] = fns.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (let v = 0; v < fns.length; v++) {
      collectGarbage();
      const start = process.hrtime.bigint();
      results[v] = await fns[v]();
      times[v].push(Number(process.hrtime.bigint() - start) / 1e9);
    }
  }
  return fns.map((_, v) => {
    const sorted = [...times[v]].sort((a, b) => a - b);
    return { runsSeconds: times[v], bestSeconds: sorted[0], medianSeconds: sorted[Math.floor((sorted.length - 1) / 2)], result: results[v] as R };
  });
}

export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** The same reader as an Observable, for the plain-RxJS variants (no rivulet adapter). */
export function plainFileLines(paths: readonly string[]): Observable<{ text: string; source: string; lineNumber: number }> {
  return new Observable((subscriber) => {
    let stopped = false;
    (async () => {
      for (const source of paths) {
        if (stopped) return;
        await forEachLine(source, (text, lineNumber) => subscriber.next({ text, source, lineNumber }));
      }
      subscriber.complete();
    })().catch((err) => subscriber.error(err));
    return () => {
      stopped = true;
    };
  });
}

/** FNV-1a over a string, folded into a running 32-bit digest. */
export function digest(running: number, text: string): number {
  let h = running ^ 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Throws with both sides when two variants disagree: timing a wrong answer means nothing. */
export function assertSame(what: string, expected: unknown, actual: unknown, variant: string): void {
  const a = JSON.stringify(expected);
  const b = JSON.stringify(actual);
  if (a !== b) throw new Error(`${what}: ${variant} disagrees with rivulet\n  rivulet: ${a.slice(0, 400)}\n  ${variant}: ${b.slice(0, 400)}`);
}

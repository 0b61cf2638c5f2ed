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

/**
 * Times several variants in rounds, after one untimed warm-up run of each (a GC before every
 * timed run, when exposed). Each round runs every variant once, forward in even rounds and
 * backward in odd ones (a, b, c, c, b, a, ...): on a shared machine, load and JIT state then
 * weigh on every variant alike instead of on whichever ran during a busy minute, and no variant
 * always runs first.
 */
export async function measureRounds<R>(fns: ReadonlyArray<() => Promise<R> | R>, runs: number): Promise<Measured<R>[]> {
  const results: (R | undefined)[] = [];
  for (let v = 0; v < fns.length; v++) results[v] = await fns[v](); // warm-up
  const times: number[][] = fns.map(() => []);
  const forward = fns.map((_, v) => v);
  const backward = [...forward].reverse();
  for (let i = 0; i < runs; i++) {
    for (const v of i % 2 === 0 ? forward : backward) {
      collectGarbage();
      const start = process.hrtime.bigint();
      results[v] = await fns[v]();
      times[v].push(Number(process.hrtime.bigint() - start) / 1e9);
    }
  }
  return fns.map((_, v) => ({ ...summary(times[v]), result: results[v] as R }));
}

/**
 * How many times the throughput of `a` is that of `b` on the same input, both timed by one
 * {@link measureRounds}: the median over the rounds of each round's ratio. A round's runs lie
 * seconds apart, so a machine whose speed drifts over minutes weighs on both sides of each ratio
 * alike, where the ratio of the two medians can pair a fast minute of one with a slow minute of
 * the other.
 */
export function roundsRatio(a: Timing, b: Timing): number {
  if (a.runsSeconds.length !== b.runsSeconds.length) throw new Error('roundsRatio: the timings are not from the same rounds');
  return median(a.runsSeconds.map((seconds, i) => b.runsSeconds[i] / seconds));
}

function summary(runsSeconds: number[]): Timing {
  const sorted = [...runsSeconds].sort((x, y) => x - y);
  return { runsSeconds, bestSeconds: sorted[0], medianSeconds: median(runsSeconds) };
}

/** The middle value (the lower middle of an even count). */
function median(values: readonly number[]): number {
  return [...values].sort((x, y) => x - y)[Math.floor((values.length - 1) / 2)];
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

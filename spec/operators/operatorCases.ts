import { mergeMap, Observable, of, OperatorFunction, pipe } from 'rxjs';

/**
 * Cases every rivulet operator's spec runs, after RxJS's own operator specs: a synchronous
 * source that must stop when the subscriber leaves, and an operator between two `mergeMap`s,
 * whose unsubscription must still reach the source ("does not break unsubscription chains").
 */

/**
 * A synchronous source that emits `valueAt(0), valueAt(1), ...` in one loop, checking
 * `subscriber.closed` before each value as RxJS's own synchronous sources do, and counts what it
 * was asked for. It never completes; it gives up after `limit` values only so that an operator
 * which ignores unsubscription fails the pull count instead of hanging the test run.
 */
export class EndlessSource<T> {
  pulls = 0;
  readonly source: Observable<T>;

  constructor(valueAt: (index: number) => T, limit = 100_000) {
    this.source = new Observable<T>((subscriber) => {
      for (let i = 0; i < limit && !subscriber.closed; i++) {
        this.pulls++;
        subscriber.next(valueAt(i));
      }
    });
  }
}

/** `op` between two `mergeMap`s, as RxJS's "does not break unsubscription chains" cases put it. */
export function betweenMergeMaps<T, R>(op: OperatorFunction<T, R>): OperatorFunction<T, R> {
  return pipe(
    mergeMap((value: T) => of(value)),
    op,
    mergeMap((output: R) => of(output)),
  );
}

import { Observable } from 'rxjs';

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

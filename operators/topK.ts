import { Observable, OperatorFunction } from 'rxjs';
import { callbackFailed, invalidOption, requireInteger, RivuletError } from '../lib/core/errors';
import { Ranked, TopRanking } from '../lib/core/topRanking';

export interface TopKOptions<T, K> {
  /** How many keys to keep (an integer >= 1). */
  k: number;
  keyOf: (update: T) => K;
  /** The key's new score (not a delta). 0 means the key is gone. */
  scoreOf: (update: T) => number;
  /** Orders keys of equal score; must be a total order. Default: `<` (UTF-16 order for strings). */
  compareKeys?: (a: K, b: K) => number;
}

const naturalOrder = (a: unknown, b: unknown): number =>
  (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;

/**
 * Keeps the `k` highest-scoring keys of a changelog of `(key, score)` updates and emits the
 * ranked list (a fresh array, best first) each time its members, scores or order change.
 *
 * Like `scan` that sorts every key on each update, but the cost of an update does not grow with
 * the number of keys, and updates that leave the top K as it was emit nothing.
 *
 * Each update replaces the key's score; a score of 0 forgets the key altogether, so memory is
 * bounded by the keys with a live score (a sliding window's changelog emits 0 when a key leaves).
 * Ties: a higher score ranks first; equal scores rank by `compareKeys(a, b)` ascending, so the
 * list depends only on the current scores, never on arrival order, and replays are stable.
 *
 * Cost (see `TopRanking`): the K members sit in a sorted array, every other key in an indexed
 * max-heap. An update is O(log n) and allocates nothing unless the list changes; a change adds
 * O(K), which emitting the list costs anyway. When a member falls below the best non-member, the
 * two swap in O(log n): no recompute. A heap rather than a balanced tree because only the best
 * non-member is ever needed, for half the code. Rows of unchanged keys are shared between lists.
 *
 * ```text
 * source:  --a5--b3--c1--b9--c0--a0--|
 *            topK({ k: 2, keyOf, scoreOf })
 * result:  --x---y-------z-------w---|
 *   x = [a5]   y = [a5, b3]   (c1 stays outside: nothing)   z = [b9, a5]
 *   (c0 removes a non-member: nothing)   w = [b9]
 * ```
 *
 * Completes when the source completes (no extra emission) and passes source errors on. A score
 * that is not a finite number errors with `ERR_INVALID_VALUE` naming the key; a throwing
 * `keyOf`, `scoreOf` or `compareKeys` errors with `ERR_CALLBACK_FAILED`. Unsubscribing (or an
 * error) unsubscribes the source and releases every key.
 *
 * @example
 * from([['x', 2], ['y', 5], ['z', 5], ['x', 0]] as const)
 *   .pipe(topK({ k: 2, keyOf: ([key]) => key, scoreOf: ([, n]) => n }))
 *   .subscribe((list) => console.log(list.map((r) => `${r.key}:${r.score}`).join(' ')));
 * // x:2
 * // y:5 x:2
 * // y:5 z:5
 * // (removing x, no longer a member, changes nothing)
 */
export function topK<T, K>(options: TopKOptions<T, K>): OperatorFunction<T, readonly Ranked<K>[]> {
  const { k, keyOf, scoreOf } = options;
  const compareKeys = options.compareKeys ?? naturalOrder;
  requireInteger('topK', 'k', k);
  for (const [name, fn] of [['keyOf', keyOf], ['scoreOf', scoreOf], ['compareKeys', compareKeys]] as const) {
    if (typeof fn !== 'function') throw invalidOption('topK', `${name} must be a function, got ${typeof fn}`);
  }

  return (source) =>
    new Observable<readonly Ranked<K>[]>((subscriber) => {
      const ranking = new TopRanking<K>(k, compareKeys);
      const fail = (name: string, cause: unknown): void => subscriber.error(callbackFailed('topK', name, cause));
      const subscription = source.subscribe({
        next(update) {
          if (subscriber.closed) return;
          let key: K;
          let score: number;
          try {
            key = keyOf(update);
          } catch (cause) {
            return fail('keyOf', cause);
          }
          try {
            score = scoreOf(update);
          } catch (cause) {
            return fail('scoreOf', cause);
          }
          if (typeof score !== 'number' || !Number.isFinite(score)) {
            const message = `topK: score of key ${String(key)} is ${String(score)}, expected a finite number`;
            return subscriber.error(new RivuletError('ERR_INVALID_VALUE', message));
          }
          let changed: boolean;
          try {
            changed = ranking.set(key, score);
          } catch (cause) {
            return fail('compareKeys', cause);
          }
          if (changed) subscriber.next(ranking.list());
        },
        error: (err) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
      return () => {
        subscription.unsubscribe();
        ranking.clear();
      };
    });
}

import { Observable, OperatorFunction } from 'rxjs';
import { invalidOption, requireInteger, RivuletError } from '../lib/core/errors';
import { guarded, operate } from '../lib/core/operate';
import { Ranked, TopRanking } from '../lib/core/topRanking';
import { checkUid, joinScope } from '../lib/state/scope';

export interface TopKOptions<T, K> {
  /** How many keys to keep (an integer >= 1). */
  k: number;
  keyOf: (update: T) => K;
  /** The key's new score (not a delta). 0 means the key is gone. */
  scoreOf: (update: T) => number;
  /** Orders keys of equal score; must be a total order. Default: `<` (UTF-16 order for strings). */
  compareKeys?: (a: K, b: K) => number;
  /** Stable id of this operator's state in checkpoints (see `runCheckpointed`); needed there. */
  uid?: string;
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
 * Cost (see `TopRanking`): the K members sit in a sorted array, the best non-members in an
 * indexed max-heap, and the long tail below them in a Map alone, so an update of a tail key (most
 * updates of a window over many keys) is O(1) and one of a candidate O(log n); neither allocates
 * unless the list changes, and a change adds O(K), which emitting the list costs anyway. When a
 * member falls below the best non-member, the two swap: no recompute. A heap rather than a
 * balanced tree because only the best non-member is ever needed, for half the code. Rows of
 * unchanged keys are shared between lists.
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
  const { k } = options;
  requireInteger('topK', 'k', k);
  checkUid('topK', options.uid);
  const callbacks = { keyOf: options.keyOf, scoreOf: options.scoreOf, compareKeys: options.compareKeys ?? naturalOrder };
  for (const [name, fn] of Object.entries(callbacks)) {
    if (typeof fn !== 'function') throw invalidOption('topK', `${name} must be a function, got ${typeof fn}`);
  }
  const keyOf = guarded('topK', 'keyOf', callbacks.keyOf, 'wrap');
  const scoreOf = guarded('topK', 'scoreOf', callbacks.scoreOf, 'wrap');
  const { compareKeys } = callbacks;
  // The ranking compares keys O(log n) times per update: one guard around the update is cheaper
  // than one around each comparison, and only compareKeys is user code in there.
  const rank = guarded('topK', 'compareKeys', (ranking: TopRanking<K>, key: K, score: number) => ranking.set(key, score), 'wrap');

  return (source) =>
    new Observable<readonly Ranked<K>[]>((destination) => {
      let ranking = new TopRanking<K>(k, compareKeys);
      const leave = joinScope('topK', options.uid, () => ({
        kind: 'topK',
        version: 1,
        fingerprint: `k=${k}`,
        snapshot: () => ranking.scores(),
        restore(scores) {
          ranking = new TopRanking<K>(k, compareKeys);
          for (const [key, score] of scores as Map<K, number>) ranking.set(key, score);
        },
      }));
      operate(source, destination, {
        next(update) {
          const key = keyOf(update);
          const score = scoreOf(update);
          if (typeof score !== 'number' || !Number.isFinite(score)) {
            throw new RivuletError('ERR_INVALID_VALUE', `topK: score of key ${String(key)} is ${String(score)}, expected a finite number`);
          }
          if (rank(ranking, key, score)) destination.next(ranking.list());
        },
      });
      return () => {
        leave();
        ranking.clear();
      };
    });
}

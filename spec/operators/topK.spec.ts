import { from, Subject, take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { Ranked, RivuletError, topK } from 'rivulet';
import { callbackFailed } from '../../lib/core/errors';
import { betweenMergeMaps, EndlessSource } from './operatorCases';

interface Update {
  key: string;
  score: number;
}

const newScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const byKey = { keyOf: (u: Update) => u.key, scoreOf: (u: Update) => u.score };
const r = (key: string, score: number): Ranked<string> => ({ key, score });

/** Marble values `a3` style: the letter is the key, the digits the score. */
function updates(...names: string[]): Record<string, Update> {
  const out: Record<string, Update> = {};
  names.forEach((name, i) => (out[String.fromCharCode(97 + i)] = { key: name[0], score: Number(name.slice(1)) }));
  return out;
}

describe('topK', () => {
  it('emits the ranked list whenever the top K changes', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      // a5 b3 c1 b9 c0 a0, k = 2
      const source = cold('-a-b-c-d-e-f-|', updates('a5', 'b3', 'c1', 'b9', 'c0', 'a0'));
      expectObservable(source.pipe(topK({ k: 2, ...byKey }))).toBe('-x-y---z---w-|', {
        x: [r('a', 5)],
        y: [r('a', 5), r('b', 3)],
        z: [r('b', 9), r('a', 5)],
        w: [r('b', 9)],
      });
      expectSubscriptions(source.subscriptions).toBe('^------------!');
    });
  });

  it('completes without emitting on an empty source', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<Update>('|');
      expectObservable(source.pipe(topK({ k: 3, ...byKey }))).toBe('|');
      expectSubscriptions(source.subscriptions).toBe('(^!)');
    });
  });

  it('stays silent on a source that never emits', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<Update>('-');
      expectObservable(source.pipe(topK({ k: 3, ...byKey }))).toBe('-');
      expectSubscriptions(source.subscriptions).toBe('^');
    });
  });

  it('passes a source error on', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-#', updates('a1'), new Error('boom'));
      expectObservable(source.pipe(topK({ k: 3, ...byKey }))).toBe('-x-#', { x: [r('a', 1)] }, new Error('boom'));
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it.each(['keyOf', 'scoreOf', 'compareKeys'] as const)('errors with ERR_CALLBACK_FAILED when %s throws', (name) => {
    const thrown = new Error(`${name} broke`);
    const options = {
      k: 2,
      ...byKey,
      compareKeys: (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0),
      [name]: () => {
        throw thrown;
      },
    };
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      // Two equal scores so that compareKeys is needed; keyOf and scoreOf fail on the first.
      const source = cold('-a-b-c-|', updates('a1', 'b1', 'c1'));
      const failsAt = name === 'compareKeys' ? '-x-#' : '-#';
      const expected = callbackFailed('topK', name, thrown);
      expect(expected.code).toBe('ERR_CALLBACK_FAILED');
      expectObservable(source.pipe(topK(options))).toBe(failsAt, { x: [r('a', 1)] }, expected);
      expectSubscriptions(source.subscriptions).toBe(name === 'compareKeys' ? '^--!' : '^!');
    });
  });

  it.each([NaN, Infinity, -Infinity, '3' as unknown as number])('errors with ERR_INVALID_VALUE on score %p', (bad) => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-|', { a: { key: 'x', score: 1 }, b: { key: 'odd', score: bad } });
      const expected = new RivuletError(
        'ERR_INVALID_VALUE',
        `topK: score of key odd is ${String(bad)}, expected a finite number`,
      );
      expectObservable(source.pipe(topK({ k: 2, ...byKey }))).toBe('-x-#', { x: [r('x', 1)] }, expected);
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('unsubscribes from the source on early unsubscribe', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-c-|', updates('a1', 'b2', 'c3'));
      expectObservable(source.pipe(topK({ k: 2, ...byKey })), '----!').toBe('-x-y-', {
        x: [r('a', 1)],
        y: [r('b', 2), r('a', 1)],
      });
      expectSubscriptions(source.subscriptions).toBe('^---!');
    });
  });

  it('stops listening to a synchronous changelog when unsubscribed', () => {
    // Every update raises a new key above the others, so every update changes the list.
    const endless = new EndlessSource((i): Update => ({ key: `k${i}`, score: i + 1 }));
    const lists: string[] = [];
    endless.source.pipe(topK({ k: 2, ...byKey }), take(3)).subscribe((list) => lists.push(list.map((e) => e.key).join(' ')));
    expect(lists).toEqual(['k0', 'k1 k0', 'k2 k1']);
    expect(endless.pulls).toBe(3);
  });

  it('does not break unsubscription chains', () => {
    newScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot('-a-b-c-|', updates('a1', 'b2', 'c3'));
      const result = source.pipe(betweenMergeMaps(topK({ k: 2, ...byKey })));
      expectObservable(result, '----!').toBe('-x-y-', { x: [r('a', 1)], y: [r('b', 2), r('a', 1)] });
      expectSubscriptions(source.subscriptions).toBe('^---!');
    });
  });

  it('orders equal scores by key ascending and re-orders when a tied key moves', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-d-e-|', updates('b5', 'a5', 'b6', 'a6', 'c6'));
      // c6 ties with the last member but ranks after it by key: no change, no emission.
      expectObservable(source.pipe(topK({ k: 2, ...byKey }))).toBe('-v-w-x-y---|', {
        v: [r('b', 5)],
        w: [r('a', 5), r('b', 5)],
        x: [r('b', 6), r('a', 5)],
        y: [r('a', 6), r('b', 6)],
      });
    });
  });

  it('the tie order is independent of arrival order and follows compareKeys', () => {
    const lastOf = (order: string[], compareKeys?: (a: string, b: string) => number): Ranked<string>[] => {
      const source = new Subject<Update>();
      let last: readonly Ranked<string>[] = [];
      source.pipe(topK({ k: 3, ...byKey, compareKeys })).subscribe((list) => (last = list));
      order.forEach((key) => source.next({ key, score: 7 }));
      return [...last];
    };
    expect(lastOf(['c', 'a', 'b', 'd'])).toEqual([r('a', 7), r('b', 7), r('c', 7)]);
    expect(lastOf(['d', 'b', 'c', 'a'])).toEqual([r('a', 7), r('b', 7), r('c', 7)]);
    // UTF-16 code unit order: upper case before lower case, '10' before '9'.
    expect(lastOf(['b', 'B', '9', '10'])).toEqual([r('10', 7), r('9', 7), r('B', 7)]);
    const reverse = (a: string, b: string): number => (a < b ? 1 : a > b ? -1 : 0);
    expect(lastOf(['a', 'c', 'b', 'd'], reverse)).toEqual([r('d', 7), r('c', 7), r('b', 7)]);
  });

  it('replaces a leader whose score drops with the best non-member', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-d-e-f-|', updates('a9', 'b8', 'c7', 'd6', 'a1', 'b7'));
      expectObservable(source.pipe(topK({ k: 2, ...byKey }))).toBe('-w-x-----y-z-|', {
        w: [r('a', 9)],
        x: [r('a', 9), r('b', 8)],
        y: [r('b', 8), r('c', 7)], // a fell to 1: c (7) beats d (6) and a
        z: [r('b', 7), r('c', 7)], // b keeps its place by key order at equal score, with a new score
      });
    });
  });

  it('lists every key while there are fewer than K', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-|', updates('a1', 'b2', 'a3'));
      expectObservable(source.pipe(topK({ k: 5, ...byKey }))).toBe('-x-y-z-|', {
        x: [r('a', 1)],
        y: [r('b', 2), r('a', 1)],
        z: [r('a', 3), r('b', 2)],
      });
    });
  });

  it('forgets a key whose score is 0, and ignores 0 for keys it does not know', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      // k = 2: a3 b2 c1 (c outside) c0 (silently forgotten) z0 (unknown) a0 (b moves up, nothing to promote)
      // then c1 comes back as a new key and fills the free place.
      const source = cold('-a-b-c-d-e-f-g-|', updates('a3', 'b2', 'c1', 'c0', 'z0', 'a0', 'c1'));
      expectObservable(source.pipe(topK({ k: 2, ...byKey }))).toBe('-u-v-------w-x-|', {
        u: [r('a', 3)],
        v: [r('a', 3), r('b', 2)],
        w: [r('b', 2)],
        x: [r('b', 2), r('c', 1)],
      });
    });
  });

  it('emits nothing when an update leaves the top K unchanged', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      // k = 2: members a9 b8; c moves around outside; b repeats its score.
      const source = cold('-a-b-c-d-e-f-|', updates('a9', 'b8', 'c1', 'c5', 'b8', 'c2'));
      expectObservable(source.pipe(topK({ k: 2, ...byKey }))).toBe('-x-y---------|', {
        x: [r('a', 9)],
        y: [r('a', 9), r('b', 8)],
      });
    });
  });

  it('keeps a single leader with k = 1', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a-b-c-d-e-|', updates('a2', 'b1', 'b3', 'a3', 'b0'));
      // b1 stays outside; a3 ties with b3 and wins by key; b0 removes a non-member: silent.
      expectObservable(source.pipe(topK({ k: 1, ...byKey }))).toBe('-x---y-z---|', {
        x: [r('a', 2)],
        y: [r('b', 3)],
        z: [r('a', 3)],
      });
    });
  });

  it('prints what its documented example says', () => {
    const lines: string[] = [];
    from([['x', 2], ['y', 5], ['z', 5], ['x', 0]] as const)
      .pipe(topK({ k: 2, keyOf: ([key]) => key, scoreOf: ([, n]) => n }))
      .subscribe((list) => lines.push(list.map((row) => `${row.key}:${row.score}`).join(' ')));
    expect(lines).toEqual(['x:2', 'y:5 x:2', 'y:5 z:5']);
  });

  it('rejects a bad k or callback at creation', () => {
    for (const k of [0, -1, 1.5, NaN, Infinity]) {
      expect(() => topK({ k, ...byKey })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    }
    expect(() => topK({ k: 1, keyOf: 'key' as never, scoreOf: byKey.scoreOf })).toThrow(/topK: keyOf must be a function/);
  });

  it('shares no state between two subscriptions', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const op = topK({ k: 1, ...byKey });
      expectObservable(cold('-a-|', updates('a5')).pipe(op)).toBe('-x-|', { x: [r('a', 5)] });
      expectObservable(cold('-a-|', updates('b1')).pipe(op)).toBe('-x-|', { x: [r('b', 1)] });
    });
  });

  it('matches a naive sort of all keys on 50k random updates over 5k keys', () => {
    const keyCount = 5000;
    const k = 10;
    let seed = 0x9e3779b9;
    const random = (): number => {
      // mulberry32: a fixed sequence, so the test is deterministic
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const names = Array.from({ length: keyCount }, (_, i) => `k${i}`);
    // The naive model ranks ties by the documented rule: key ascending in UTF-16 order.
    const tieRank = new Int32Array(keyCount);
    [...names].sort().forEach((name, rank) => (tieRank[Number(name.slice(1))] = rank));
    const scores = new Float64Array(keyCount);
    const ranksBefore = (a: number, b: number): boolean =>
      scores[a] !== scores[b] ? scores[a] > scores[b] : tieRank[a] < tieRank[b];

    /** Recomputes the top K from every key's score (a selection pass over all keys). */
    const naiveTop = (): string => {
      const best: number[] = [];
      for (let i = 0; i < keyCount; i++) {
        if (scores[i] === 0) continue;
        if (best.length === k && !ranksBefore(i, best[k - 1])) continue;
        let at = best.length;
        while (at > 0 && ranksBefore(i, best[at - 1])) at--;
        best.splice(at, 0, i);
        if (best.length > k) best.pop();
      }
      return best.map((i) => `${names[i]}:${scores[i]}`).join(',');
    };
    const show = (list: readonly Ranked<string>[]): string => list.map((row) => `${row.key}:${row.score}`).join(',');

    const source = new Subject<Update>();
    const emitted: (readonly Ranked<string>[])[] = [];
    source.pipe(topK({ k, ...byKey })).subscribe((list) => emitted.push(list));
    const shownAtEmission: string[] = [];
    const mismatches: string[] = [];
    let previous = '';
    for (let step = 0; step < 50_000; step++) {
      // A few hot keys move often (so the top K changes), the long tail drifts; small integer
      // scores make ties common, and scores reach 0 so keys leave and come back.
      const i = random() < 0.3 ? Math.floor(random() * 30) : Math.floor(random() * keyCount);
      scores[i] = Math.max(0, scores[i] + Math.floor(random() * 7) - 3);
      const before = emitted.length;
      source.next({ key: names[i], score: scores[i] });
      const expected = naiveTop();
      const changed = expected !== previous;
      const got = emitted.length - before;
      if (got !== (changed ? 1 : 0)) mismatches.push(`step ${step}: ${got} emissions, top changed: ${changed}`);
      else if (changed && show(emitted[emitted.length - 1]) !== expected) {
        mismatches.push(`step ${step}: got ${show(emitted[emitted.length - 1])}, naive ${expected}`);
      }
      if (got === 1) shownAtEmission.push(show(emitted[emitted.length - 1]));
      previous = expected;
      if (mismatches.length > 5) break;
    }
    expect(mismatches).toEqual([]);
    expect(emitted.length).toBeGreaterThan(2000); // the test exercises many changes, not a frozen top
    // Lists already emitted are never changed afterwards (rows are shared, not mutated).
    expect(emitted.map(show)).toEqual(shownAtEmission);
  });
});

import fc from 'fast-check';
import { from, tap } from 'rxjs';
import { Ranked, slidingHourWindow, topK, WindowChange, windowStats } from 'rivulet';

/**
 * slidingHourWindow piped into topK, against a model that recomputes everything from the list of
 * accepted events after every step. The model follows slidingWindow's documented semantics:
 * - E = largest timestamp seen, watermark W = E - allowedLatenessMs;
 * - the pane [s, s + 1h) expires once W >= s + hours * 1h; expiring panes are processed oldest
 *   first, and within a pane each key in the order it first arrived there: the key's new total
 *   is emitted (0 once, then the key is forgotten);
 * - an event whose pane has expired at the watermark after the event moved it is late (counted,
 *   and sent to the `late` observer if there is one, else dropped); otherwise it counts in its own pane and the key's new total is emitted;
 * - every change carries windowEnd = end of the pane containing W and windowStart = windowEnd -
 *   hours * 1h.
 * topK's model: sort every key with a non-zero total by total desc, then key asc; a list is
 * emitted exactly when that sorted top K differs from the previous one.
 */
const HOUR = 3_600_000;
const START = Date.UTC(2024, 2, 30, 22, 15); // a quarter past, not aligned to the hour
const KEYS = ['a', 'b', 'c', 'd', 'B', 'aa'] as const;

interface Star {
  key: string;
  at: number;
}

interface Scenario {
  events: Star[];
  hours: number;
  allowedLatenessMs: number;
  k: number;
  /** Late events go to a `late` observer, or are dropped (and only counted). */
  lateStream: boolean;
}

const quarters = (min: number, max: number): fc.Arbitrary<number> =>
  fc.integer({ min, max }).map((q) => q * 15 * 60_000);

const scenario: fc.Arbitrary<Scenario> = fc
  .oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.constant(24) })
  .chain((hours) =>
    fc.record({
      steps: fc.array(
        fc.record({
          key: fc.constantFrom(...KEYS),
          // The stream's clock moves by quarter hours and 5 minutes, so that events and
          // watermarks often fall exactly on pane bounds (where half-open intervals go wrong).
          advanceMs: fc.oneof(
            { weight: 4, arbitrary: quarters(0, 3) },
            { weight: 4, arbitrary: fc.integer({ min: 0, max: 8 }).map((n) => n * 5 * 60_000) },
            { weight: 2, arbitrary: quarters(4, 4 * 30) }, // gaps of 1 to 30 hours
          ),
          // Out-of-order jitter: stamped before the stream's clock, up to past the window's length.
          jitterMs: fc.oneof(
            { weight: 4, arbitrary: fc.constant(0) },
            { weight: 2, arbitrary: quarters(1, 4 * (Math.min(hours, 4) + 1)) },
            { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 * HOUR }) },
          ),
        }),
        { maxLength: 80, size: 'max' },
      ),
      hours: fc.constant(hours),
      allowedLatenessMs: fc.oneof(fc.constant(0), quarters(0, 12), fc.integer({ min: 0, max: 3 * HOUR })),
      k: fc.integer({ min: 1, max: 4 }),
      lateStream: fc.boolean(),
    }),
  )
  .map(({ steps, ...rest }) => {
    let clock = START;
    const events = steps.map(({ key, advanceMs, jitterMs }) => ({ key, at: (clock += advanceMs) - jitterMs }));
    return { events, ...rest };
  });

const show = (list: readonly Ranked<string>[]): string => list.map((r) => `${r.key}:${r.score}`).join(' ');

function model({ events, hours, allowedLatenessMs, k }: Scenario) {
  const paneOf = (t: number): number => Math.floor(t / HOUR) * HOUR;
  const accepted: { key: string; pane: number }[] = [];
  const expired = new Set<string>(); // `${pane}|${key}` whose count has left the totals
  const expiredPanes = new Set<number>();
  const changes: WindowChange<string, number>[] = [];
  const lists: string[] = [];
  let current = '';
  const late: Star[] = [];
  let maxTime = -Infinity;

  const totalOf = (key: string): number =>
    accepted.filter((e) => e.key === key && !expired.has(`${e.pane}|${key}`)).length;
  const topList = (): string =>
    KEYS.map((key) => ({ key, score: totalOf(key) }))
      .filter((r) => r.score !== 0)
      .sort((x, y) => y.score - x.score || (x.key < y.key ? -1 : 1))
      .slice(0, k)
      .map((r) => `${r.key}:${r.score}`)
      .join(' ');

  for (const event of events) {
    const { key, at } = event;
    maxTime = Math.max(maxTime, at);
    const watermark = maxTime - allowedLatenessMs;
    const windowEnd = paneOf(watermark) + HOUR;
    const windowStart = windowEnd - hours * HOUR;
    const record = (changed: string): void => {
      changes.push({ key: changed, total: totalOf(changed), windowStart, windowEnd });
      const list = topList();
      if (list !== current) lists.push((current = list));
    };
    const due = [...new Set(accepted.map((e) => e.pane))]
      .filter((pane) => !expiredPanes.has(pane) && watermark >= pane + hours * HOUR)
      .sort((x, y) => x - y);
    for (const pane of due) {
      expiredPanes.add(pane);
      for (const inPane of new Set(accepted.filter((e) => e.pane === pane).map((e) => e.key))) {
        expired.add(`${pane}|${inPane}`);
        record(inPane);
      }
    }
    if (watermark >= paneOf(at) + hours * HOUR) late.push(event);
    else {
      accepted.push({ key, pane: paneOf(at) });
      record(key);
    }
  }
  return { changes, lists, late, final: current };
}

describe('slidingHourWindow piped into topK', () => {
  it('matches a model that recomputes every total and the top K from all accepted events', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const stats = windowStats();
        const changes: WindowChange<string, number>[] = [];
        const lists: string[] = [];
        const late: Star[] = [];
        let completed = false;
        from(s.events)
          .pipe(
            slidingHourWindow({
              keyOf: (e: Star) => e.key,
              timestampOf: (e) => e.at,
              hours: s.hours,
              allowedLatenessMs: s.allowedLatenessMs,
              stats,
              late: s.lateStream ? { next: (e) => late.push(e) } : undefined,
            }),
            tap((change) => changes.push({ ...change })),
            topK({ k: s.k, keyOf: (c) => c.key, scoreOf: (c) => c.total }),
          )
          .subscribe({ next: (list) => lists.push(show(list)), complete: () => (completed = true) });

        const expected = model(s);
        expect(completed).toBe(true);
        expect(stats.late).toBe(expected.late.length);
        expect(late).toEqual(s.lateStream ? expected.late : []);
        expect(changes).toEqual(expected.changes);
        expect(lists).toEqual(expected.lists);
        expect(lists.at(-1) ?? '').toBe(expected.final);
      }),
      { numRuns: 600 },
    );
  });
});

import { TZDate } from '@date-fns/tz';
import { addDays, startOfDay } from 'date-fns';
import fc from 'fast-check';
import { calendarDays, counting, countingBy, fixedPanes, RivuletError, windowStats } from 'rivulet';

const H = 3_600_000;
const at = (iso: string): number => Date.parse(iso);

function optionError(fn: () => unknown): RivuletError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RivuletError);
    expect((error as RivuletError).code).toBe('ERR_INVALID_OPTION');
    return error as RivuletError;
  }
  throw new Error('expected the call to throw');
}

describe('fixedPanes', () => {
  it('aligns hourly panes to the epoch, half-open at both ends', () => {
    const hours = fixedPanes(H);
    expect(hours.paneStartOf(0)).toBe(0);
    expect(hours.paneStartOf(H - 1)).toBe(0);
    expect(hours.paneStartOf(H)).toBe(H);
    expect(hours.paneStartOf(at('2024-01-01T10:59:59.999Z'))).toBe(at('2024-01-01T10:00:00Z'));
    expect(hours.paneStartOf(at('2024-01-01T11:00:00Z'))).toBe(at('2024-01-01T11:00:00Z'));
    expect(hours.nextPaneStart(at('2024-01-01T10:00:00Z'))).toBe(at('2024-01-01T11:00:00Z'));
  });

  it('handles times before the epoch', () => {
    const hours = fixedPanes(H);
    expect(hours.paneStartOf(-1)).toBe(-H);
    expect(hours.paneStartOf(-H)).toBe(-H);
    expect(hours.paneStartOf(-H - 1)).toBe(-2 * H);
  });

  it('shifts panes by an odd offset, negative and oversized offsets meaning the same panes', () => {
    // Panes of 10 starting at ..., -7, 3, 13, ...
    for (const offset of [3, -7, 23, -17]) {
      const panes = fixedPanes(10, offset);
      expect(panes.paneStartOf(3)).toBe(3);
      expect(panes.paneStartOf(12)).toBe(3);
      expect(panes.paneStartOf(12.5)).toBe(3);
      expect(panes.paneStartOf(13)).toBe(13);
      expect(panes.paneStartOf(2)).toBe(-7);
      expect(panes.paneStartOf(-7)).toBe(-7);
      expect(panes.paneStartOf(-8)).toBe(-17);
      expect(panes.nextPaneStart(-7)).toBe(3);
    }
    expect(fixedPanes(10, 3).name).toBe('fixed(10ms offset 3ms)');
    expect(fixedPanes(H).name).toBe('fixed(3600000ms)');
  });

  it('rejects pane lengths that are not positive integers, with the reason', () => {
    for (const bad of [0, -H, 1.5, NaN, Infinity]) {
      expect(optionError(() => fixedPanes(bad)).message).toBe(`fixedPanes: paneMs must be an integer >= 1, got ${bad}`);
    }
    expect(optionError(() => fixedPanes('10' as unknown as number)).message).toContain('paneMs');
    expect(optionError(() => fixedPanes(H, 0.5)).message).toBe('fixedPanes: offsetMs must be an integer, got 0.5');
    expect(optionError(() => fixedPanes(H, NaN)).message).toContain('offsetMs');
  });
});

describe('calendarDays', () => {
  const la = calendarDays('America/Los_Angeles');

  it('has 23-hour and 25-hour days where Los Angeles changes its clocks', () => {
    const spring = la.paneStartOf(at('2024-03-10T12:00:00Z'));
    expect(spring).toBe(at('2024-03-10T00:00:00-08:00'));
    expect(la.nextPaneStart(spring)).toBe(at('2024-03-11T00:00:00-07:00'));
    expect(la.nextPaneStart(spring) - spring).toBe(23 * H);

    const autumn = la.paneStartOf(at('2024-11-03T12:00:00Z'));
    expect(autumn).toBe(at('2024-11-03T00:00:00-07:00'));
    expect(la.nextPaneStart(autumn)).toBe(at('2024-11-04T00:00:00-08:00'));
    expect(la.nextPaneStart(autumn) - autumn).toBe(25 * H);

    const ordinary = at('2024-03-09T00:00:00-08:00');
    expect(la.nextPaneStart(ordinary) - ordinary).toBe(24 * H);
  });

  it('puts local midnight in the new day and the instant before it in the old one', () => {
    const midnight = at('2024-03-11T00:00:00-07:00');
    expect(la.paneStartOf(midnight)).toBe(midnight);
    expect(la.paneStartOf(midnight - 1)).toBe(at('2024-03-10T00:00:00-08:00'));
    // 23:30 on the short day is 06:30 UTC the next day: a fixed -08:00 offset would get it wrong.
    expect(la.paneStartOf(at('2024-03-10T23:30:00-07:00'))).toBe(at('2024-03-10T00:00:00-08:00'));
    // The repeated hour 01:00-02:00 on 3 November belongs to the same day both times.
    expect(la.paneStartOf(at('2024-11-03T01:30:00-07:00'))).toBe(at('2024-11-03T00:00:00-07:00'));
    expect(la.paneStartOf(at('2024-11-03T01:30:00-08:00'))).toBe(at('2024-11-03T00:00:00-07:00'));
  });

  it('answers correctly when asked out of order (the last-day cache is transparent)', () => {
    const days = calendarDays('America/Los_Angeles');
    const a = at('2024-11-03T10:00:00-08:00');
    const b = at('2024-11-02T10:00:00-07:00');
    expect(days.paneStartOf(a)).toBe(at('2024-11-03T00:00:00-07:00'));
    expect(days.paneStartOf(b)).toBe(at('2024-11-02T00:00:00-07:00'));
    expect(days.paneStartOf(a)).toBe(at('2024-11-03T00:00:00-07:00'));
    expect(days.paneStartOf(at('2024-11-04T00:00:00-08:00'))).toBe(at('2024-11-04T00:00:00-08:00'));
  });

  it('follows Europe/London across both clock changes', () => {
    const london = calendarDays('Europe/London');
    const spring = london.paneStartOf(at('2024-03-31T12:00:00Z'));
    expect(spring).toBe(at('2024-03-31T00:00:00Z'));
    expect(london.nextPaneStart(spring)).toBe(at('2024-04-01T00:00:00+01:00'));
    expect(london.nextPaneStart(spring) - spring).toBe(23 * H);
    const autumn = london.paneStartOf(at('2024-10-27T12:00:00Z'));
    expect(autumn).toBe(at('2024-10-27T00:00:00+01:00'));
    expect(london.nextPaneStart(autumn) - autumn).toBe(25 * H);
    // 23:30 UTC on 1 April is already 2 April in London.
    expect(london.paneStartOf(at('2024-04-01T23:30:00Z'))).toBe(at('2024-04-02T00:00:00+01:00'));
  });

  it('starts a day at 01:00 where midnight does not exist (Santiago, 8 September 2024)', () => {
    const santiago = calendarDays('America/Santiago');
    const start = santiago.paneStartOf(at('2024-09-08T12:00:00Z'));
    expect(start).toBe(at('2024-09-08T01:00:00-03:00'));
    expect(santiago.nextPaneStart(start)).toBe(at('2024-09-09T00:00:00-03:00'));
    const before = at('2024-09-07T00:00:00-04:00');
    expect(santiago.nextPaneStart(before)).toBe(start);
  });

  it('accepts UTC offsets and rejects unknown zones, naming them', () => {
    const ist = calendarDays('+05:30');
    expect(ist.paneStartOf(at('2024-01-01T20:00:00Z'))).toBe(at('2024-01-02T00:00:00+05:30'));
    expect(calendarDays('UTC').name).toBe('days(UTC)');
    expect(optionError(() => calendarDays('Mars/Olympus_Mons')).message).toContain('"Mars/Olympus_Mons"');
    expect(optionError(() => calendarDays('')).message).toContain('unknown time zone ""');
    expect(optionError(() => calendarDays(undefined as unknown as string)).message).toContain('calendarDays');
  });
});

describe('calendarDays against the zone library asked every time', () => {
  // The oracle: what calendarDays computed before it remembered days, straight from the library.
  const startOfUncached = (t: number, zone: string) => startOfDay(new TZDate(t, zone)).getTime();
  const afterUncached = (start: number, zone: string) => startOfDay(addDays(new TZDate(start, zone), 1)).getTime();

  // Zones with 23- and 25-hour days, clocks that change at midnight (Havana, Santiago, Asuncion),
  // half-hour shifts (Lord Howe), a day that was skipped (Apia, 30 December 2011), fixed offsets.
  const zones = [
    'America/Los_Angeles', 'Europe/London', 'America/Santiago', 'America/Havana', 'America/Asuncion', 'Australia/Lord_Howe',
    'Pacific/Apia', 'Asia/Tehran', 'Africa/Casablanca', 'Asia/Kolkata', 'UTC', '+05:30', '-08:00',
  ];
  // Instants near clock changes and near midnights, then walks from them: small steps both ways
  // (lines of mixed offsets around one midnight), day-sized jumps, and far jumps.
  const anchors = [
    '2024-03-10T10:00:00Z', '2024-11-03T09:00:00Z', '2024-03-31T01:00:00Z', '2024-10-27T01:00:00Z', '2024-09-08T04:00:00Z',
    '2024-04-07T03:00:00Z', '2024-03-10T05:00:00Z', '2024-11-03T04:00:00Z', '2011-12-29T10:00:00Z', '2024-04-06T15:00:00Z',
    '2024-10-06T02:00:00Z', '2004-03-07T08:00:00Z', '1970-01-01T00:00:00Z',
  ].map(Date.parse);
  const H = 3_600_000;
  const step = fc.oneof(
    fc.integer({ min: -2 * H, max: 2 * H }),
    fc.integer({ min: -30 * H, max: 30 * H }),
    fc.constantFrom(-1, 1, 24 * H, -24 * H, 23 * H, 25 * H),
    fc.integer({ min: -400 * 24 * H, max: 400 * 24 * H }),
  );
  const walk = fc.tuple(fc.constantFrom(...zones), fc.constantFrom(...anchors), fc.array(step, { minLength: 1, maxLength: 80 }));

  it('gives every instant the day the zone library gives it, and every day the library\'s next day', () => {
    fc.assert(
      fc.property(walk, ([zone, anchor, steps]) => {
        const days = calendarDays(zone);
        let t = anchor;
        for (const s of steps) {
          t += s;
          const start = days.paneStartOf(t);
          expect([t, start]).toEqual([t, startOfUncached(t, zone)]);
          expect([start, days.nextPaneStart(start)]).toEqual([start, afterUncached(start, zone)]);
          // The instant just before a day's end is still in it; the end starts the next day.
          const end = days.nextPaneStart(start);
          expect([days.paneStartOf(end - 1), days.paneStartOf(end)]).toEqual([start, end]);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('answers nextPaneStart for instants that are not day starts as the library does', () => {
    fc.assert(
      fc.property(walk, ([zone, anchor, steps]) => {
        const days = calendarDays(zone);
        let t = anchor;
        for (const s of steps) {
          t += s;
          days.paneStartOf(t + 7 * H);
          expect([t, days.nextPaneStart(t)]).toEqual([t, afterUncached(t, zone)]);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('keeps the 23- and 25-hour days of Los Angeles when lines of two offsets alternate across midnight', () => {
    const days = calendarDays('America/Los_Angeles');
    const short = at('2024-03-10T00:00:00-08:00');
    const long = at('2024-11-03T00:00:00-07:00');
    for (let i = 0; i < 50; i++) {
      expect(days.paneStartOf(short - 60_000 + i)).toBe(at('2024-03-09T00:00:00-08:00'));
      expect(days.paneStartOf(short + 23 * H - 1 - i)).toBe(short);
      expect(days.paneStartOf(short + 23 * H + i)).toBe(at('2024-03-11T00:00:00-07:00'));
    }
    expect(days.nextPaneStart(short) - short).toBe(23 * H);
    expect(days.paneStartOf(long + 25 * H - 1)).toBe(long);
    expect(days.nextPaneStart(long) - long).toBe(25 * H);
    expect(days.paneStartOf(short + 1)).toBe(short);
  });
});

describe('counting', () => {
  it('counts, merges and subtracts', () => {
    const c = counting<string>();
    expect(c.add(c.add(c.zero(), 'x'), 'y')).toBe(2);
    expect(c.merge(2, 3)).toBe(5);
    expect(c.subtract!(5, 3)).toBe(2);
  });

  it('sums weights and rejects weights that are not finite numbers', () => {
    const c = counting<{ w: unknown }>((v) => v.w as number);
    expect(c.add(c.add(c.zero(), { w: 2.5 }), { w: 4 })).toBe(6.5);
    for (const w of [NaN, Infinity, '3', undefined]) {
      expect(() => c.add(0, { w })).toThrow(`counting: weightOf returned ${String(w)}, expected a finite number`);
    }
    expect(() => counting(5 as unknown as () => number)).toThrow('counting: weightOf must be a function');
  });
});

describe('countingBy', () => {
  const byStatus = countingBy((line: { status: string }) => line.status);
  const lines = (...codes: string[]) => codes.map((status) => ({ status }));

  it('counts per sub-key in a Map, in first-seen order, safe for keys such as __proto__', () => {
    const acc = lines('200', '__proto__', '200', 'constructor').reduce(byStatus.add, byStatus.zero());
    expect([...acc]).toEqual([['200', 2], ['__proto__', 1], ['constructor', 1]]);
  });

  it('merges, subtracts (dropping sub-keys that reach zero) and clones independently', () => {
    const a = lines('200', '404', '200').reduce(byStatus.add, byStatus.zero());
    const b = lines('404', '500').reduce(byStatus.add, byStatus.zero());
    const merged = byStatus.merge(byStatus.clone!(a), b);
    expect([...merged]).toEqual([['200', 2], ['404', 2], ['500', 1]]);
    expect([...a]).toEqual([['200', 2], ['404', 1]]);
    expect([...b]).toEqual([['404', 1], ['500', 1]]);
    expect([...byStatus.subtract!(merged, b)]).toEqual([['200', 2], ['404', 1]]);
    expect(() => countingBy(null as unknown as () => string)).toThrow('countingBy: keyOf must be a function');
  });
});

describe('windowStats', () => {
  it('starts with nothing late and no watermark, and each call is fresh', () => {
    const a = windowStats();
    expect(a).toEqual({ late: 0, future: 0, watermark: -Infinity });
    a.late = 3;
    expect(windowStats().late).toBe(0);
  });
});

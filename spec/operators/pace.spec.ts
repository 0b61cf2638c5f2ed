import { from, Observable, Subject, take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { FlowGate, pace, RivuletError } from 'rivulet';
import { betweenMergeMaps, EndlessSource } from './operatorCases';

const HOUR = 3_600_000;
const T0 = Date.UTC(2015, 0, 1);

interface Event {
  id: string;
  at: number;
}

const at = (id: string, hours: number): Event => ({ id, at: T0 + hours * HOUR });
const timestampOf = (e: Event) => e.at;

function testScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

describe('pace', () => {
  it('replays hour gaps at speed 24 as 150 s waits, starting at the first value', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const values = { a: at('a', 0), b: at('b', 1), c: at('c', 2) };
      const source = cold('(abc|)', values);
      // 150 s = 1 h / 24; after the first frame each value is 150 s from the previous one.
      expectObservable(source.pipe(pace({ timestampOf, speed: 24 }))).toBe('a 149999ms b 149999ms (c|)', values);
      expectSubscriptions(source.subscriptions).toBe('(^!)');
    });
  });

  it('turns a 10-hour gap in the data into a 25-minute wait, with no burst afterwards', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const values = { a: at('a', 0), b: at('b', 10), c: at('c', 11) };
      const source = cold('(abc|)', values);
      // b is due 25 minutes (1 500 000 ms) after a; marbles count the frame a occupies.
      expectObservable(source.pipe(pace({ timestampOf, speed: 24 }))).toBe('a 1499999ms b 149999ms (c|)', values);
    });
  });

  it('measures from the arrival of the first value, whenever it comes', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const values = { a: at('a', 0), b: at('b', 1) };
      // b arrives late (after its due time): emitted on arrival; nothing is delayed twice.
      const source = cold('10s a 200s b |', values);
      expectObservable(source.pipe(pace({ timestampOf, speed: 24 }))).toBe('10s a 200s b |', values);
    });
  });

  it('keeps an absolute schedule: an early-arriving value waits only the rest of its slot', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const values = { a: at('a', 0), b: at('b', 1) };
      const source = cold('a 99999ms b |', values);
      expectObservable(source.pipe(pace({ timestampOf, speed: 24 }))).toBe('a 149999ms (b|)', values);
    });
  });

  it('emits an out-of-order event right after its predecessor, never reordering', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const values = { a: at('a', 0), b: at('b', 2), c: at('c', 1), d: at('d', 3) };
      const source = cold('(abcd|)', values);
      // b is due at 5m; c (1h, earlier than b) follows b at once; d is due at 7.5m.
      expectObservable(source.pipe(pace({ timestampOf, speed: 24 }))).toBe('a 299999ms (bc) 149996ms (d|)', values);
    });
  });

  it('completes at once on an empty source and never emits for a silent one', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const empty = cold<Event>('|');
      const never = cold<Event>('-');
      expectObservable(empty.pipe(pace({ timestampOf, speed: 24 }))).toBe('|');
      expectObservable(never.pipe(pace({ timestampOf, speed: 24 }))).toBe('-');
      expectSubscriptions(empty.subscriptions).toBe('(^!)');
      expectSubscriptions(never.subscriptions).toBe('^');
    });
  });

  it('forwards a source error at once, dropping values still queued', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const values = { a: at('a', 0), b: at('b', 1) };
      const source = cold('ab 9998ms #', values);
      expectObservable(source.pipe(pace({ timestampOf, speed: 24 }))).toBe('a 9999ms #', values);
      expectSubscriptions(source.subscriptions).toBe('^ 9999ms !');
    });
  });

  it('sends a throwing timestampOf down the error channel, naming the operator', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const values = { a: at('a', 0), b: at('b', 1) };
      const source = cold('a 5s b', values);
      const paced = source.pipe(
        pace({
          timestampOf: (e: Event) => {
            if (e.id === 'b') throw new Error('no time');
            return e.at;
          },
          speed: 24,
        }),
      );
      const error = new RivuletError('ERR_CALLBACK_FAILED', 'pace: timestampOf threw: no time');
      expectObservable(paced).toBe('a 5s #', values, error);
      expectSubscriptions(source.subscriptions).toBe('^ 5s !');
    });
  });

  it('rejects a timestamp that is not a finite number', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a', { a: { id: 'a', at: NaN } });
      const error = new RivuletError('ERR_INVALID_VALUE', 'pace: timestampOf returned NaN, not a finite number');
      expectObservable(source.pipe(pace({ timestampOf, speed: 24 }))).toBe('#', undefined, error);
    });
  });

  it('stops emitting on early unsubscribe', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const values = { a: at('a', 0), b: at('b', 1), c: at('c', 2) };
      const source = cold('(abc|)', values);
      expectObservable(source.pipe(pace({ timestampOf, speed: 24 })), '200s !').toBe('a 149999ms b', values);
      expectSubscriptions(source.subscriptions).toBe('(^!)');
    });
  });

  it('cancels its pending timer on unsubscribe', () => {
    const scheduler = testScheduler();
    const pending = () => scheduler.actions.filter((action) => !action.closed).length;
    const subscription = from([at('a', 0), at('b', 1)]).pipe(pace({ timestampOf, speed: 24, scheduler })).subscribe();
    expect(pending()).toBe(1);
    subscription.unsubscribe();
    expect(pending()).toBe(0);
  });

  it('stops listening to a synchronous source when unsubscribed, for values already due', () => {
    // All at the same event time: each is due on arrival and emitted at once, nothing is queued.
    const scheduler = testScheduler();
    const pending = () => scheduler.actions.filter((action) => !action.closed).length;
    const endless = new EndlessSource((i) => at(String(i), 0));
    const seen: string[] = [];
    endless.source.pipe(pace({ timestampOf, speed: 24, scheduler }), take(3)).subscribe((e) => seen.push(e.id));
    expect(seen).toEqual(['0', '1', '2']);
    expect(endless.pulls).toBe(3);
    expect(pending()).toBe(0);
  });

  it('unsubscribes its source and cancels its timer when a scheduled emission ends the subscription', () => {
    const scheduler = testScheduler();
    scheduler.maxFrames = Infinity; // flush() stops at 750 frames by default
    const source = new Subject<Event>();
    const seen: string[] = [];
    source.pipe(pace({ timestampOf, speed: 24, scheduler }), take(2)).subscribe({ next: (e) => seen.push(e.id), complete: () => seen.push('done') });
    [0, 1, 2, 3].forEach((hour) => source.next(at(String(hour), hour)));
    expect(seen).toEqual(['0']);
    scheduler.flush();
    // '1' was due 150 s in and ended it all: nothing ran after, the queued 2 and 3 were dropped.
    expect(seen).toEqual(['0', '1', 'done']);
    expect(scheduler.now()).toBe(150_000);
    expect(source.observed).toBe(false);
  });

  it('does not break unsubscription chains', () => {
    testScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const values = { a: at('a', 0), b: at('b', 1), c: at('c', 2) };
      const source = hot('a 199s b 199s c', values);
      const result = source.pipe(betweenMergeMaps(pace({ timestampOf, speed: 24 })));
      expectObservable(result, '300s !').toBe('a 199s b', values);
      expectSubscriptions(source.subscriptions).toBe('^ 299999ms !');
    });
  });

  it('pauses the gate at maxQueued and resumes it at half, bounding the queue', () => {
    testScheduler().run(({ flush }) => {
      const gate = new FlowGate();
      const changes: Array<[number, boolean]> = [];
      const events = Array.from({ length: 10 }, (_, i) => at(String(i), i));
      const paced = from(events).pipe(pace({ timestampOf, speed: 3600, gate, maxQueued: 4 }));
      let emitted = 0;
      gate.onChange((paused) => changes.push([emitted, paused]));
      paced.subscribe(() => emitted++);
      flush();
      // The first value goes straight through; 4 more fill the queue and pause the gate; once
      // 2 are left it resumes (a synchronous source ignores the gate, so the queue keeps filling).
      expect(changes).toEqual([
        [1, true],
        [8, false],
      ]);
      expect(emitted).toBe(10);
    });
  });

  it('errors with ERR_BUFFER_FULL when the queue overflows and there is no gate', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const values = { a: at('a', 0), b: at('b', 1), c: at('c', 2), d: at('d', 3) };
      const error = new RivuletError('ERR_BUFFER_FULL', 'pace: more than 2 values waiting and no gate to pause the source');
      expectObservable(cold('(abcd|)', values).pipe(pace({ timestampOf, speed: 24, maxQueued: 2 }))).toBe('(a#)', values, error);
    });
  });

  it('releases the gate when unsubscribed while holding it', () => {
    const gate = new FlowGate();
    const source = new Subject<Event>();
    const subscription = source.pipe(pace({ timestampOf, speed: 1, gate, maxQueued: 2 })).subscribe();
    source.next(at('a', 0));
    source.next(at('b', 1));
    source.next(at('c', 2));
    expect(gate.paused).toBe(true);
    subscription.unsubscribe();
    expect(gate.paused).toBe(false);
  });

  describe('with an output gate', () => {
    const sink = {};
    /** Pauses `gate` as a sink would on each `p` of `marbles`, and resumes it on each `r`. */
    function sinkPauses(cold: (m: string) => Observable<string>, gate: FlowGate, marbles: string) {
      cold(marbles).subscribe((c) => (c === 'p' ? gate.pause(sink) : gate.resume(sink)));
    }

    it('emits nothing while a sink holds the gate, then every value that fell due, in order, at once', () => {
      testScheduler().run(({ cold, expectObservable }) => {
        const outputGate = new FlowGate();
        const values = { a: at('a', 0), b: at('b', 1), c: at('c', 2), d: at('d', 3) };
        // speed 3600: one event-hour is one second. b and c fall due while the sink holds.
        sinkPauses(cold, outputGate, '500ms p 1999ms r');
        const paced = cold('(abcd|)', values).pipe(pace({ timestampOf, speed: 3600, outputGate }));
        expectObservable(paced).toBe('a 2499ms (bc) 496ms (d|)', values);
      });
    });

    it('holds a value that arrives due while the sink holds the gate', () => {
      testScheduler().run(({ cold, hot, expectObservable }) => {
        const outputGate = new FlowGate();
        const values = { a: at('a', 0), b: at('b', 0) };
        sinkPauses(cold, outputGate, '10ms p 89ms r');
        const paced = hot('a 49ms b 99ms |', values).pipe(pace({ timestampOf, speed: 1, outputGate }));
        expectObservable(paced).toBe('a 99ms b 49ms |', values);
      });
    });

    it('does not complete while the sink holds values', () => {
      testScheduler().run(({ cold, expectObservable }) => {
        const outputGate = new FlowGate();
        const values = { a: at('a', 0), b: at('b', 1) };
        sinkPauses(cold, outputGate, '100ms p 4899ms r');
        expectObservable(cold('(ab|)', values).pipe(pace({ timestampOf, speed: 3600, outputGate }))).toBe('a 4999ms (b|)', values);
      });
    });

    it('does not deadlock when its own pause of the source and the sink\'s pause of pace overlap', () => {
      testScheduler().run(({ cold, flush }) => {
        const gate = new FlowGate();
        const outputGate = new FlowGate();
        const events = Array.from({ length: 10 }, (_, i) => at(String(i), i));
        // A source that stops while `gate` is paused and goes on when it resumes, as files do.
        let read = 0;
        const source = new Observable<Event>((subscriber) => {
          const pump = () => {
            while (read < events.length && !gate.paused && !subscriber.closed) subscriber.next(events[read++]);
            if (read === events.length) subscriber.complete();
          };
          const stop = gate.onChange((paused) => paused || pump());
          pump();
          return stop;
        });
        const emitted: string[] = [];
        const readWhenResumed: number[] = [];
        let done = false;
        sinkPauses(cold, outputGate, '1500ms p 8499ms r');
        cold('9999ms x').subscribe(() => readWhenResumed.push(read, emitted.length));
        // speed 3600 and event-hours apart: one value a second; the sink holds from 1.5 s to 10 s.
        source.pipe(pace({ timestampOf, speed: 3600, gate, outputGate, maxQueued: 2 })).subscribe({
          next: (e) => emitted.push(e.id),
          complete: () => (done = true),
        });
        flush();
        // While held, pace's queue filled (2 values) and paused the source: 2 emitted, 4 read.
        expect(readWhenResumed).toEqual([4, 2]);
        expect(emitted).toEqual(events.map((e) => e.id));
        expect(done).toBe(true);
        expect(gate.paused).toBe(false);
        expect(outputGate.paused).toBe(false);
      });
    });

    it('stops watching the output gate when unsubscribed', () => {
      const outputGate = new FlowGate();
      const source = new Subject<Event>();
      const seen: string[] = [];
      const subscription = source.pipe(pace({ timestampOf, speed: 1, outputGate })).subscribe((e) => seen.push(e.id));
      outputGate.pause(sink);
      source.next(at('a', 0));
      subscription.unsubscribe();
      outputGate.resume(sink);
      expect(seen).toEqual([]);
    });

    it('refuses the input gate as output gate, since pace would wait on its own pause', () => {
      const gate = new FlowGate();
      expect(() => pace({ timestampOf, speed: 1, gate, outputGate: gate })).toThrow('pace: outputGate must not be the same gate as gate');
      expect(() => pace({ timestampOf, speed: 1, outputGate: {} as FlowGate })).toThrow('outputGate must be a FlowGate');
    });
  });

  it('rejects bad options at creation', () => {
    expect(() => pace({ timestampOf, speed: 0 })).toThrow('pace: speed must be a finite number > 0, got 0');
    expect(() => pace({ timestampOf, speed: -2 })).toThrow(RivuletError);
    expect(() => pace({ timestampOf, speed: Infinity })).toThrow('speed');
    expect(() => pace({ timestampOf, speed: 1, maxQueued: 0 })).toThrow('maxQueued');
    expect(() => pace({ timestampOf: undefined as never, speed: 1 })).toThrow('timestampOf must be a function');
  });
});

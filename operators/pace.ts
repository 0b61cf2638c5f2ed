import { asyncScheduler, MonoTypeOperatorFunction, Observable, SchedulerLike, Subscription } from 'rxjs';
import { FlowGate } from '../lib/core/flowGate';
import { invalidOption, requireInteger, requirePositive, RivuletError } from '../lib/core/errors';
import { guarded, operate } from '../lib/core/operate';
import { refuseCheckpoint } from '../lib/state/scope';

export interface PaceOptions<T> {
  /** Event time of a value, in epoch milliseconds. */
  timestampOf: (value: T) => number;
  /** How many times faster than event time to replay: 24 plays one event-hour in 2.5 minutes. */
  speed: number;
  /** Where processing time comes from; `asyncScheduler` by default. */
  scheduler?: SchedulerLike;
  /** Paused while the queue is full, resumed when it is half empty; give it to the source. */
  gate?: FlowGate;
  /**
   * Queue bound (default 10 000). With a gate, reaching it pauses the gate; without one, going
   * past it is an ERR_BUFFER_FULL error, because nothing upstream could be slowed down.
   * `Infinity` lifts the bound.
   */
  maxQueued?: number;
  /**
   * The gate the sinks downstream pause when they cannot keep up. While it is paused, nothing is
   * emitted, even values that are due; when it resumes, every value that fell due meanwhile is
   * emitted at once, in order. A second gate, not `gate`: pace pauses `gate` itself when its
   * queue fills, and a single gate could not tell that pause from a sink's, so pace would wait on
   * itself forever. A full queue while the sink holds pace pauses `gate` as usual.
   */
  outputGate?: FlowGate;
}

/**
 * Replays values at `speed` times their event-time pace, on a scheduler.
 *
 * Like `delayWhen` with a timer per value, but the delays come from the data and form one
 * absolute schedule: the value with event time `t` is emitted at `start + (t - t0) / speed`,
 * where `start` is when the first value (event time `t0`) arrived, so rounding never accumulates
 * into drift. A value whose event time is earlier than the previous value's is emitted right
 * after it: order is never changed. A gap in the data is a proportionally scaled wait, never a
 * burst.
 *
 * ```text
 * source (synchronous):   (abc)|      event times 0h, 1h, 11h
 * pace({ speed: 24 }):    a 150s b 1500s (c|)
 * ```
 *
 * Values wait in a queue (a file source emits them all at once). With `gate`, the gate is paused
 * when `maxQueued` values wait and resumed when half of them have gone, so memory stays bounded.
 * With `outputGate`, a sink that cannot keep up holds pace's queue instead of receiving it: pace
 * emits nothing while that gate is paused, and its queue filling then pauses `gate` in turn.
 *
 * Completion: completes after the last queued value was emitted. Error (from the source, or
 * `timestampOf` throwing or returning a non-finite number): forwarded at once; values still
 * queued are dropped, since waiting out a paced replay only to fail would hide the failure.
 * Unsubscribe: cancels the pending timer, drops the queue, and releases the gate.
 *
 * @example
 * ```ts
 * const gate = new FlowGate();
 * fileLines('events.json', { gate }).pipe(
 *   map((line) => JSON.parse(line.text)),
 *   pace({ timestampOf: (e) => Date.parse(e.created_at), speed: 24, gate }),
 * ).subscribe(console.log);
 * // events one hour apart in the data are printed 150 seconds apart
 * ```
 */
export function pace<T>(options: PaceOptions<T>): MonoTypeOperatorFunction<T> {
  const { speed, scheduler = asyncScheduler, gate, outputGate, maxQueued = 10_000 } = options;
  if (typeof options.timestampOf !== 'function') throw invalidOption('pace', 'timestampOf must be a function');
  requirePositive('pace', 'speed', speed);
  if (maxQueued !== Infinity) requireInteger('pace', 'maxQueued', maxQueued);
  if (outputGate !== undefined && !(outputGate instanceof FlowGate)) throw invalidOption('pace', 'outputGate must be a FlowGate');
  if (outputGate !== undefined && outputGate === gate) throw invalidOption('pace', 'outputGate must not be the same gate as gate: pace would wait on its own pause');
  const timestampOf = guarded('pace', 'timestampOf', options.timestampOf, 'wrap');

  return (source) =>
    new Observable<T>((destination) => {
      // A FIFO of (value, due time); `head` avoids the O(n) cost of Array.shift.
      let values: T[] = [];
      let dues: number[] = [];
      let head = 0;
      let firstEventTime = NaN;
      let start = 0;
      let lastDue = -Infinity;
      let sourceDone = false;
      let timer: Subscription | undefined;
      const holder = {};

      const queued = () => values.length - head;
      const held = () => outputGate?.paused === true;

      const drain = () => {
        timer = undefined;
        const now = scheduler.now();
        // A sink may pause the output gate from inside next(): checked before every value.
        while (head < values.length && dues[head] <= now && !destination.closed && !held()) {
          const value = values[head];
          values[head++] = undefined as T;
          destination.next(value);
        }
        if (head === values.length) {
          values = [];
          dues = [];
          head = 0;
        } else if (head > 1024 && head * 2 > values.length) {
          values = values.slice(head);
          dues = dues.slice(head);
          head = 0;
        }
        if (gate && queued() <= maxQueued / 2) gate.resume(holder);
        // Resuming `gate` may make the source emit at once, and that emission may have scheduled
        // a drain already: one pending drain only (the cast undoes a narrowing that ignores it).
        (timer as Subscription | undefined)?.unsubscribe();
        timer = undefined;
        // While held, the output gate's resume schedules the next drain; a timer would only spin.
        if (queued() > 0) {
          if (!held()) timer = scheduler.schedule(drain, Math.max(0, dues[head] - now));
        } else if (sourceDone) destination.complete();
      };

      // Scheduled rather than called, so that a sink resuming inside its own write does not
      // re-enter pace.
      const stopWatching = outputGate?.onChange((paused) => {
        if (paused || queued() === 0) return;
        timer?.unsubscribe();
        timer = scheduler.schedule(drain, 0);
      });

      refuseCheckpoint('pace', 'it waits on processing time, which a checkpoint cannot hold');
      operate(source, destination, {
        next: (value) => {
          const time = timestampOf(value);
          if (typeof time !== 'number' || !Number.isFinite(time)) {
            throw new RivuletError('ERR_INVALID_VALUE', `pace: timestampOf returned ${String(time)}, not a finite number`);
          }
          if (Number.isNaN(firstEventTime)) {
            firstEventTime = time;
            start = scheduler.now();
          }
          const due = Math.max(lastDue, start + (time - firstEventTime) / speed);
          lastDue = due;
          if (queued() === 0 && due <= scheduler.now() && !held()) return destination.next(value);
          if (queued() >= maxQueued && !gate) {
            throw new RivuletError('ERR_BUFFER_FULL', `pace: more than ${maxQueued} values waiting and no gate to pause the source`);
          }
          values.push(value);
          dues.push(due);
          if (gate && queued() >= maxQueued) gate.pause(holder);
          if (!timer && !held()) timer = scheduler.schedule(drain, Math.max(0, dues[head] - scheduler.now()));
        },
        complete: () => {
          sourceDone = true;
          if (queued() === 0) destination.complete();
        },
      });

      return () => {
        stopWatching?.();
        timer?.unsubscribe();
        values = [];
        dues = [];
        gate?.resume(holder);
      };
    });
}

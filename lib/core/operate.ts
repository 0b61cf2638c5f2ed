/**
 * The subscriber skeleton every rivulet operator and sink is built on, and the wrapper through
 * which they call user callbacks (boundaryWindow, on a per-line path, catches around its whole
 * step instead and names the callback the same way).
 *
 * `source.subscribe({ next, error, complete })` inside `new Observable(...)` has a flaw that
 * RxJS's own operators avoid: the subscription it returns exists only once `subscribe` returns,
 * so a synchronous source (`range`, `from(array)`, a generator) cannot learn that the subscriber
 * went away and runs to its end (forever, if it is endless). {@link operate} links the inner
 * subscriber to the downstream one *before* subscribing to the source, as RxJS 7's
 * `createOperatorSubscriber` does: when downstream unsubscribes (a `take(3)`), the inner
 * subscriber is closed at once and the source stops at its next `closed` check.
 *
 * It lives in lib/core, not beside the operators, because sinks in lib/io subscribe to their
 * sources the same way and lib may not import operators.
 */
import { Observable, Subscriber } from 'rxjs';
import { callbackFailed, RivuletError } from './errors';

/** What an operator does with each notification of its source. */
export interface OperatorHandlers<T> {
  /**
   * A source value. Whatever it throws goes to the destination's error channel (so a callback
   * wrapped with {@link guarded} arrives as `ERR_CALLBACK_FAILED`) and the source is unsubscribed.
   */
  next(value: T): void;
  /** The source errored; default: pass the error on. A throw is passed on instead. */
  error?(error: unknown): void;
  /** The source completed; default: complete the destination. A throw errors it instead. */
  complete?(): void;
  /** Runs once when the inner subscription ends for any reason: release state here. */
  finalize?(): void;
}

/** The inner subscriber: closed together with its destination (it is one of its teardowns). */
class LinkedSubscriber<T, R> extends Subscriber<T> {
  private readonly downstream: Subscriber<R>;
  private readonly handlers: OperatorHandlers<T>;

  constructor(downstream: Subscriber<R>, handlers: OperatorHandlers<T>) {
    super();
    this.downstream = downstream;
    this.handlers = handlers;
    // The link, made before anything is subscribed and only once the handlers are in place: a
    // destination that is already closed unsubscribes (and finalizes) this one at once.
    downstream.add(this);
  }

  // Subscriber's next checks isStopped and calls _next: a value goes straight to the handler here,
  // one call fewer per value and operator (RxJS's own handling of a value after the end is kept).
  override next(value: T): void {
    if (this.isStopped) {
      super.next(value);
      return;
    }
    try {
      this.handlers.next(value);
    } catch (error) {
      this.downstream.error(error);
    }
  }

  protected override _error(error: unknown): void {
    try {
      if (this.handlers.error) this.handlers.error(error);
      else this.downstream.error(error);
    } catch (thrown) {
      this.downstream.error(thrown);
    } finally {
      this.unsubscribe();
    }
  }

  protected override _complete(): void {
    try {
      if (this.handlers.complete) this.handlers.complete();
      else this.downstream.complete();
    } catch (thrown) {
      this.downstream.error(thrown);
    } finally {
      this.unsubscribe();
    }
  }

  override unsubscribe(): void {
    if (this.closed) return;
    super.unsubscribe();
    this.handlers.finalize?.();
  }
}

/**
 * Subscribes `destination` to `source` through `handlers`, with the inner subscriber linked to
 * `destination` before the source is subscribed. Returns the inner subscriber (already subscribed),
 * which closes when `destination` does; add further teardowns to `destination`. A destination
 * that is already closed (an earlier input errored synchronously) is not subscribed at all.
 *
 * @example
 * ```ts
 * const double = (source: Observable<number>) =>
 *   new Observable<number>((destination) => {
 *     operate(source, destination, { next: (n) => destination.next(n * 2) });
 *   });
 * ```
 */
export function operate<T, R>(source: Observable<T>, destination: Subscriber<R>, handlers: OperatorHandlers<T>): Subscriber<T> {
  const inner = new LinkedSubscriber<T, R>(destination, handlers);
  if (!inner.closed) source.subscribe(inner);
  return inner;
}

/**
 * What {@link guarded} does with a {@link RivuletError} thrown by the callback. `'pass'` lets it
 * through unchanged: it already names where it came from, as when one operator hands its own
 * guarded callbacks to another (slidingHourWindow to slidingWindow) or a library aggregator
 * rejects a value. `'wrap'` wraps it like any other error, for callbacks that call rivulet code
 * whose codes would mislead once emitted: a partition's pipeline that creates an operator with a
 * bad option must not emit ERR_INVALID_OPTION, which is thrown at creation and never emitted.
 */
export type RivuletErrors = 'pass' | 'wrap';

/**
 * Wraps a user callback once, at creation: what it throws becomes `ERR_CALLBACK_FAILED` naming
 * the operator and the callback, with the original error as `cause` (a {@link RivuletError} is
 * passed through or wrapped as `rivuletErrors` says). The wrapper passes up to three arguments
 * without collecting them into an array, so it costs one call and no allocation on a hot path.
 * Inside {@link operate}'s handlers the wrapped callback simply throws: the skeleton routes it.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function guarded<F extends (...args: any[]) => any>(where: string, callback: string, fn: F, rivuletErrors: RivuletErrors = 'pass'): F {
  const passing = rivuletErrors === 'pass';
  const wrapped = (a?: unknown, b?: unknown, c?: unknown): unknown => {
    try {
      return fn(a, b, c);
    } catch (cause) {
      throw passing && cause instanceof RivuletError ? cause : callbackFailed(where, callback, cause);
    }
  };
  return wrapped as F;
}

/**
 * The future bound as an operator applies it to arriving values (partitionBy's clock, the
 * event-time windows): one {@link FutureBound} deciding, the rejected values counted and handed
 * on, the held ones applied in arrival order once confirmed. Internal: not part of the public API.
 */
import { FutureBound, FutureBoundState } from '../../lib/windowing/futureBound';

/** Applies a value at its event time. */
export type Apply<T> = (value: T, t: number) => void;

export class FutureGate<T> {
  private readonly bound: FutureBound<T>;

  /**
   * @param stats its `future` counts the rejected values
   * @param rejected where they go (already guarded by the operator)
   */
  constructor(
    maxFutureMs: number,
    confirmations: number,
    private readonly stats: { future: number } | undefined,
    private readonly rejected: ((value: T) => void) | undefined,
  ) {
    this.bound = new FutureBound<T>(maxFutureMs, confirmations);
  }

  /**
   * A value at `t` arrived, `latest` being the clock: applies it now, holds it, or applies every
   * held value it confirms (itself last), in arrival order, until `stopped()`.
   */
  offer(t: number, value: T, latest: number, apply: Apply<T>, stopped: () => boolean): void {
    const verdict = this.bound.offer(t, value, latest);
    this.takeRejected();
    if (verdict === 'accept') apply(value, t);
    else if (verdict === 'release') this.applyAll(this.bound.takeReleased(), apply, stopped);
  }

  /** Outside progress moved the clock to `latest`: applies the held values it brings in bound. */
  advanced(latest: number, apply: Apply<T>, stopped: () => boolean): void {
    if (this.bound.heldCount > 0) this.applyAll(this.bound.advanced(latest), apply, stopped);
  }

  /** The input ended: nothing can confirm what is still held, so it is rejected. */
  end(): void {
    if (this.bound.heldCount === 0) return;
    this.bound.rejectHeld();
    this.takeRejected();
  }

  snapshot(): FutureBoundState<T> {
    return this.bound.snapshot();
  }

  restore(state: FutureBoundState<T>): void {
    this.bound.restore(state);
    if (this.stats) this.stats.future = this.bound.rejected;
  }

  describe(): string {
    return this.bound.describe();
  }

  private applyAll(entries: readonly [number, T][], apply: Apply<T>, stopped: () => boolean): void {
    for (const [t, value] of entries) {
      if (stopped()) return;
      apply(value, t);
    }
  }

  private takeRejected(): void {
    for (const value of this.bound.takeRejected()) {
      if (this.stats) this.stats.future++;
      this.rejected?.(value);
    }
  }
}

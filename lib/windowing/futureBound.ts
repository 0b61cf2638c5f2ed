/**
 * The future bound on event time: the rule that keeps one event dated far ahead (a clock set to
 * 9999, a corrupt field) from moving event time, and with it every window, by itself.
 *
 * An event is in bound when its time is at most `maxFutureMs` after the latest accepted event
 * time (or when no time has been accepted yet). An event beyond the bound is held, not applied.
 * A jump is genuine when `confirmations` following events also lie beyond the bound that stood
 * when the first of them was held: then every held event is released, in arrival order, and the
 * caller applies them as if they had just arrived. An event in bound while some are held shows
 * that those were outliers: they are rejected (counted, handed back to the caller) and the event
 * is accepted. When outside progress moves the latest time (a shared clock), held events that the
 * new time brings in bound are released. At most `maxHeld` events are held: beyond that the
 * oldest are rejected. Only data time is read, so a replay decides the same way every time.
 */
import { invalidOption, requireInteger, requirePositive } from '../core/errors';

/** What {@link FutureBound.offer} decided for one event. */
export type FutureVerdict = 'accept' | 'hold' | 'release';

/** A {@link FutureBound}'s state, for a checkpoint. */
export interface FutureBoundState<T> {
  held: [number, T][];
  beyond: number;
  rejected: number;
}

const NONE: never[] = [];

export class FutureBound<T> {
  /** How many events were rejected, over the bound's life. */
  rejected = 0;
  private held: [number, T][] = [];
  /** Events seen beyond the bound since the first was held (evicted ones included). */
  private beyond = 0;
  private dropped: T[] = [];

  constructor(
    readonly maxFutureMs: number,
    readonly confirmations = 3,
    readonly maxHeld = 1_000,
  ) {}

  /** How many events are held now. */
  get heldCount(): number {
    return this.held.length;
  }

  /**
   * Decides for an event at `t`, `latest` being the latest accepted event time. On 'release'
   * {@link takeReleased} gives the held events, this one last; after any verdict
   * {@link takeRejected} gives those just rejected.
   */
  offer(t: number, value: T, latest: number): FutureVerdict {
    if (t <= latest + this.maxFutureMs || latest === -Infinity) {
      if (this.held.length > 0) this.rejectHeld();
      return 'accept';
    }
    this.held.push([t, value]);
    this.beyond++;
    if (this.beyond > this.confirmations) return 'release';
    while (this.held.length > this.maxHeld) {
      this.dropped.push(this.held.shift()![1]);
      this.rejected++;
    }
    return 'hold';
  }

  /**
   * Outside progress moved the latest time to `latest`: releases, in arrival order, the held
   * events (time, value) it brings in bound; the others stay held. Empty when there are none.
   */
  advanced(latest: number): [number, T][] {
    const limit = latest + this.maxFutureMs;
    if (!this.held.some(([t]) => t <= limit)) return NONE;
    const out: [number, T][] = [];
    const keep: [number, T][] = [];
    for (const entry of this.held) {
      if (entry[0] <= limit) out.push(entry);
      else keep.push(entry);
    }
    this.held = keep;
    this.beyond = keep.length;
    return out;
  }

  /** After 'release': the held events (time, value) in arrival order, no longer held. */
  takeReleased(): [number, T][] {
    const out = this.held;
    this.held = [];
    this.beyond = 0;
    return out;
  }

  /** The events rejected since the last call, oldest first; empty (and cheap) when none. */
  takeRejected(): T[] {
    if (this.dropped.length === 0) return NONE;
    const out = this.dropped;
    this.dropped = [];
    return out;
  }

  snapshot(): FutureBoundState<T> {
    return { held: this.held, beyond: this.beyond, rejected: this.rejected };
  }

  restore(state: FutureBoundState<T>): void {
    this.held = state.held;
    this.beyond = state.beyond;
    this.rejected = state.rejected;
  }

  describe(): string {
    return `maxFutureMs=${this.maxFutureMs} confirmations=${this.confirmations}`;
  }

  /** Rejects every held event (nothing can confirm them any more: the input ended). */
  rejectHeld(): void {
    for (const [, value] of this.held) this.dropped.push(value);
    this.rejected += this.held.length;
    this.held = [];
    this.beyond = 0;
  }
}

/** The largest `confirmations` an operator accepts (and the most events it holds). */
export const MAX_CONFIRMATIONS = 1_000;

/** Checks `maxFutureMs` and `confirmations` at creation; undefined `maxFutureMs` means no bound. */
export function checkFutureOptions(where: string, maxFutureMs: number | undefined, confirmations: number | undefined, rejected: unknown): void {
  if (maxFutureMs !== undefined) requirePositive(where, 'maxFutureMs', maxFutureMs, true);
  if (confirmations !== undefined) {
    requireInteger(where, 'confirmations', confirmations);
    if (confirmations > MAX_CONFIRMATIONS) throw invalidOption(where, `confirmations must be at most ${MAX_CONFIRMATIONS}, got ${confirmations}`);
    if (maxFutureMs === undefined) throw invalidOption(where, 'confirmations needs maxFutureMs');
  }
  if (rejected !== undefined) {
    if (typeof (rejected as { next?: unknown } | null)?.next !== 'function') throw invalidOption(where, 'rejected must be an observer (with next)');
    if (maxFutureMs === undefined) throw invalidOption(where, 'rejected needs maxFutureMs');
  }
}

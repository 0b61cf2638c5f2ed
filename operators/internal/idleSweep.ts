/**
 * Ends the partitions of a `partitionBy` subscription that received nothing for `idleTimeoutMs`
 * of scheduler time, with one pending action at a time: armed for the least recently touched
 * partition, re-armed after each run. Internal: not part of the public API.
 */
import { SchedulerLike, Subscription } from 'rxjs';
import type { Partition, PartitionTable } from './partitionTable';

export class IdleSweep<T, P> {
  private pending: Subscription | undefined;

  constructor(
    private readonly table: PartitionTable<T, P>,
    private readonly scheduler: SchedulerLike,
    private readonly idleTimeoutMs: number,
    private readonly stopped: () => boolean,
  ) {}

  /** A value was routed to `p`: it is busy as of now. */
  touched(p: Partition<T, P>): void {
    p.touchedAt = this.scheduler.now();
    if (this.pending === undefined) this.arm();
  }

  cancel(): void {
    this.pending?.unsubscribe();
    this.pending = undefined;
  }

  private arm(): void {
    const oldest = this.table.oldest();
    if (oldest === undefined) return;
    this.pending = this.scheduler.schedule(() => {
      this.pending = undefined;
      const now = this.scheduler.now();
      this.table.closeWhile((p) => now - p.touchedAt >= this.idleTimeoutMs, this.stopped);
      if (!this.stopped()) this.arm();
    }, Math.max(0, oldest.touchedAt + this.idleTimeoutMs - this.scheduler.now()));
  }
}

/**
 * Backpressure for pipelines that RxJS cannot slow down by itself.
 *
 * A sink that cannot keep up (a TCP `write()` returned false, a bounded buffer filled while the
 * peer is away) calls `pause(this)`; when it drains it calls `resume(this)`. A source given the
 * same gate stops reading (a paused socket lets TCP flow control push back on the sender; a
 * paused file stream stops reading the disk) while any holder keeps it paused.
 *
 * ```ts
 * const gate = new FlowGate();
 * tcpListen({ port: 7000, gate }).pipe(map(transform), tcpSink({ port: 7002, gate })).subscribe();
 * ```
 */
export class FlowGate {
  private readonly holders = new Set<object>();
  private readonly listeners = new Set<(paused: boolean) => void>();

  /** True while at least one holder has paused the flow. */
  get paused(): boolean {
    return this.holders.size > 0;
  }

  /** `holder` asks the sources to stop; idempotent for the same holder. */
  pause(holder: object): void {
    if (this.holders.has(holder)) return;
    this.holders.add(holder);
    if (this.holders.size === 1) this.notify(true);
  }

  /** `holder` no longer needs the sources stopped; they resume once no holder remains. */
  resume(holder: object): void {
    if (!this.holders.delete(holder)) return;
    if (this.holders.size === 0) this.notify(false);
  }

  /** Calls `listener` on every change between paused and flowing; returns the way to stop. */
  onChange(listener: (paused: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(paused: boolean): void {
    for (const listener of [...this.listeners]) listener(paused);
  }
}

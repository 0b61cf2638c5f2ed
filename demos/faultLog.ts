/*
 * Fault lines of the CLI's servers on stderr (a peer's oversized frame or idle connection, a
 * refused WebSocket client, a sink's lost connection): each peer's fault is worth a line, but a
 * flood of bad peers must not flood the log. Per kind (where it happened and the error's code)
 * the first few lines of an interval are written; the rest of that interval are counted and said
 * in one line when it ends, or by `flush` at the end of the run.
 */
import { asyncScheduler, SchedulerLike, Subscription } from 'rxjs';

export interface FaultLogOptions {
  /** The command, the first word of every line: `log-counts`. */
  app: string;
  /** Lines of one kind written per interval. Default 3. */
  linesPerInterval?: number;
  /** Default 1000. */
  intervalMs?: number;
  /** The clock of the intervals. Default `asyncScheduler` (real time). */
  scheduler?: SchedulerLike;
}

export interface FaultLog {
  /** A callback for an adapter's `onConnectionError` or `onClientError`: faults of `where` (`--listen`, `dashboard feed`). */
  reporter(where: string): (error: { code: string; message: string }) => void;
  /** Says what is still counted and stops the timers; for the end of the run. */
  flush(): void;
}

interface Kind {
  where: string;
  code: string;
  written: number;
  left: number;
  end: Subscription;
}

export function faultLog(write: (line: string) => void, options: FaultLogOptions): FaultLog {
  const { app, linesPerInterval = 3, intervalMs = 1000, scheduler = asyncScheduler } = options;
  const per = intervalMs === 1000 ? 'a second' : `per ${intervalMs} ms`;
  const kinds = new Map<string, Kind>();
  const sayLeft = (kind: Kind) => {
    if (kind.left > 0) write(`${app}: ${kind.where}: ${kind.left} more ${kind.code} not logged (at most ${linesPerInterval} lines of a kind ${per})\n`);
  };
  return {
    reporter: (where) => (error) => {
      const key = `${where}\n${error.code}`;
      let kind = kinds.get(key);
      if (kind === undefined) {
        const opened: Kind = { where, code: error.code, written: 0, left: 0, end: Subscription.EMPTY };
        opened.end = scheduler.schedule(() => {
          kinds.delete(key);
          sayLeft(opened);
        }, intervalMs);
        kinds.set(key, opened);
        kind = opened;
      }
      if (kind.written >= linesPerInterval) {
        kind.left += 1;
        return;
      }
      kind.written += 1;
      write(`${app}: ${where}: ${error.message}\n`);
    },
    flush: () => {
      for (const kind of kinds.values()) {
        kind.end.unsubscribe();
        sayLeft(kind);
      }
      kinds.clear();
    },
  };
}

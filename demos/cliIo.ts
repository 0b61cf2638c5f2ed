import { Writable } from 'node:stream';
import type { SchedulerLike } from 'rxjs';

/** Where a command writes, and how it learns that the user wants it to stop. */
export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM for the real CLI). */
  stopRequested: Promise<void>;
  /** Whether stderr is a terminal (progress bars only then). */
  interactive: boolean;
  /** The clock of the command's own rate limits (fault lines on stderr); real time by default. */
  scheduler?: SchedulerLike;
}

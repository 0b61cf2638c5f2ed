/*
 * Progress bars of the CLI, on stderr when it is a terminal: they measure what the user waits
 * for. A paced replay waits for event time, not for the file (read far ahead into the pacer's
 * queue); a log count waits for its files to be counted.
 */
import { statSync } from 'node:fs';
import type { SingleBar } from 'cli-progress';
import type { FileProgress } from '../index';
import type { CliIo } from './cliIo';

/** Loaded by the first bar: a run whose stderr is not a terminal never draws one. */
const newBar = (options: ConstructorParameters<typeof SingleBar>[0]): SingleBar => new (require('cli-progress') as typeof import('cli-progress')).SingleBar(options);

const BAR_WIDTH = 30;
/** The bar's value runs to this, so that a fraction shows as a whole number. */
const STEPS = 1000;

function bar(fraction: number): string {
  const full = Math.round(Math.min(1, Math.max(0, fraction)) * BAR_WIDTH);
  return '█'.repeat(full) + '░'.repeat(BAR_WIDTH - full);
}

const percent = (fraction: number) => `${Math.floor(Math.min(1, Math.max(0, fraction)) * 100)}%`;
const count = (n: number) => n.toLocaleString('en-US');

/** Whole seconds as `1h 02m`, `2m 05s` or `7s`. */
export function formatEta(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** Total bytes of the files, as far as they can be seen (a file that cannot be is left for the reader to report). */
function totalBytes(files: readonly string[]): number {
  let total = 0;
  for (const file of files) {
    try {
      total += statSync(file).size;
    } catch {
      // The reader fails on it with the reason.
    }
  }
  return total;
}

/** Bytes read across files read one after another, from each file's own progress. */
function bytesAcross(): (p: FileProgress) => number {
  const done = new Map<string, number>();
  return (p) => {
    done.set(p.source, p.bytesRead);
    let sum = 0;
    for (const bytes of done.values()) sum += bytes;
    return sum;
  };
}

export interface ReplayProgress {
  /** An event was read (it may wait in the pacer's queue). */
  read(eventTimeMs: number): void;
  /** An event was sent: it left the pacer. */
  sent(eventTimeMs: number): void;
  /** Progress of the file reader. */
  file(progress: FileProgress): void;
  /** Every file has been read: the last event time is known. */
  readingDone(): void;
  stop(): void;
}

/**
 * A paced replay's bar: events sent, the event time reached, and the ETA, which is the event time
 * still to replay divided by the speed. Until every file has been read, the last event time is
 * estimated from the bytes read so far (event time read per byte).
 *
 * ```text
 * stream-archive ███████████░░░░░░░░░░░░░░░░░░░ 38% | 1,812 events sent | event time 2015-01-01T00:45:51Z | ETA 1m 48s
 * ```
 */
export function replayProgress(io: CliIo, label: string, files: readonly string[], speed: number): ReplayProgress | undefined {
  if (!io.interactive) return undefined;
  const total = totalBytes(files);
  const across = bytesAcross();
  let bytesRead = 0;
  let first = NaN;
  let readUpTo = -Infinity;
  let reached = -Infinity;
  let sent = 0;
  let allRead = false;
  const estimatedEnd = () => (allRead || bytesRead === 0 || bytesRead >= total ? readUpTo : first + ((readUpTo - first) * total) / bytesRead);
  const fraction = () => {
    if (sent === 0) return 0;
    const span = estimatedEnd() - first;
    return span > 0 ? (reached - first) / span : allRead ? 1 : 0;
  };
  const line = () => {
    const time = Number.isFinite(reached) ? new Date(reached).toISOString().replace('.000Z', 'Z') : '–';
    const eta = sent === 0 ? '–' : formatEta((estimatedEnd() - reached) / speed / 1000);
    return `${label} ${bar(fraction())} ${percent(fraction())} | ${count(sent)} events sent | event time ${time} | ETA ${eta}`;
  };
  const progress = newBar({ format: () => line(), stream: io.stderr as NodeJS.WriteStream, hideCursor: false });
  progress.start(STEPS, 0);
  const update = () => progress.update(Math.round(fraction() * STEPS));
  return {
    read(at) {
      if (Number.isNaN(first)) first = at;
      if (at > readUpTo) readUpTo = at;
    },
    sent(at) {
      sent += 1;
      if (at > reached) reached = at;
      update();
    },
    file(p) {
      bytesRead = across(p);
      update();
    },
    readingDone() {
      allRead = true;
      update();
    },
    stop: () => progress.stop(),
  };
}

export interface CountProgress {
  /** Bytes and lines read so far. */
  file(progress: FileProgress): void;
  day(): void;
  stop(): void;
}

/**
 * A count over files: bytes counted of all the files, the current file, lines and days (windows
 * closed) so far, and the ETA from the rate so far.
 *
 * ```text
 * log-counts ████████████████░░░░░░░░░░░░░░ 55% | day_4.log | 851 lines | 3 days | ETA 2s
 * ```
 */
export function countProgress(io: CliIo, label: string, files: readonly string[]): CountProgress | undefined {
  if (!io.interactive) return undefined;
  const total = totalBytes(files);
  const across = bytesAcross();
  /** Lines of the reads that have finished; the one under way adds its own. */
  let linesDone = 0;
  let bytesRead = 0;
  let current = '';
  let lines = 0;
  let days = 0;
  const fraction = () => (total > 0 ? bytesRead / total : 1);
  const progress = newBar({
    format: (_options, params) => {
      const eta = bytesRead === 0 ? '–' : params.value >= STEPS ? '0s' : Number.isFinite(params.eta) ? formatEta(params.eta) : '–';
      return `${label} ${bar(fraction())} ${percent(fraction())} | ${current} | ${count(lines)} lines | ${count(days)} ${days === 1 ? 'day' : 'days'} | ETA ${eta}`;
    },
    stream: io.stderr as NodeJS.WriteStream,
    hideCursor: false,
  });
  progress.start(STEPS, 0);
  return {
    file(p) {
      bytesRead = across(p);
      current = p.source.split(/[\\/]/).pop() ?? p.source;
      lines = linesDone + p.linesRead;
      if (p.done) linesDone = lines;
      progress.update(Math.round(fraction() * STEPS));
    },
    day() {
      days += 1;
    },
    stop: () => progress.stop(),
  };
}

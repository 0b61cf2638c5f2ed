import { createWriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import { Observable, OperatorFunction } from 'rxjs';
import { FlowGate } from '../core/flowGate';
import { invalidOption, RivuletError } from '../core/errors';
import { operate } from '../core/operate';

export interface WriteLinesOptions {
  /** Paused while the stream's buffer is above its high-water mark, resumed on 'drain'. */
  gate?: FlowGate;
  /** For a path: 'w' truncates (the default), 'a' appends. */
  flags?: 'w' | 'a';
  /** How the stream is named in error messages; the path by default, else 'stream'. */
  name?: string;
}

/**
 * A sink that writes every string as a line (`\n` appended) to a Writable or to a file.
 *
 * Like `tap((line) => stream.write(line + '\n'))`, but with backpressure and an honest ending:
 * when `write()` returns false the `gate` is paused until the stream emits 'drain' (give the same
 * gate to the source), and the result completes only once every line has been handed to the
 * operating system. Without a gate a slow stream buffers in memory, as a bare `write()` would.
 *
 * ```text
 * source:             a b c |
 * writeLines(out):    ------ (flushed) |      out receives "a\nb\nc\n"
 * ```
 *
 * A path is opened on subscription and closed when the source completes (or on unsubscribe,
 * after what was written is flushed). A stream given by the caller, such as `process.stdout`, is
 * never ended or closed. Error: a write or open failure errors with ERR_FILE naming the file or
 * stream; a source error is forwarded. Both release the gate, as does unsubscribe.
 *
 * @example
 * ```ts
 * of('{"200":143}', '{"200":477}').pipe(writeLines(process.stdout)).subscribe();
 * // {"200":143}
 * // {"200":477}
 * ```
 */
export function writeLines(target: Writable | string, options: WriteLinesOptions = {}): OperatorFunction<string, never> {
  const { gate, flags = 'w' } = options;
  const owned = typeof target === 'string';
  if (owned && target === '') throw invalidOption('writeLines', 'the path must not be empty');
  if (!owned && (typeof target !== 'object' || target === null || typeof target.write !== 'function')) {
    throw invalidOption('writeLines', 'the target must be a path or a Writable stream');
  }
  if (flags !== 'w' && flags !== 'a') throw invalidOption('writeLines', `flags must be 'w' or 'a', got ${String(flags)}`);
  const name = options.name ?? (owned ? target : 'stream');

  return (source) =>
    new Observable<never>((destination) => {
      const stream = owned ? createWriteStream(target, { flags }) : target;
      const holder = {};
      let pending = 0; // writes whose callback has not run yet
      let sourceDone = false;
      let finished = false;

      const fail = (err: unknown) => {
        const reason = err instanceof Error ? err.message : String(err);
        destination.error(new RivuletError('ERR_FILE', `writeLines: cannot write to ${name}: ${reason}`, { cause: err }));
      };
      const onDrain = () => gate?.resume(holder);
      const afterWrite = (err?: Error | null) => {
        pending--;
        // A failed write is reported by the stream's 'error' event, which always follows.
        if (!err && sourceDone && pending === 0) finish();
      };
      const finish = () => {
        if (finished) return;
        finished = true;
        // The last write's callback has run, so everything is with the OS; a file we opened is
        // closed before completing so a reader sees it whole.
        if (owned) stream.end(() => destination.complete());
        else destination.complete();
      };

      stream.on('error', fail);
      stream.on('drain', onDrain);
      operate(source, destination, {
        next: (line) => {
          pending++;
          if (!stream.write(line + '\n', afterWrite)) gate?.pause(holder);
        },
        complete: () => {
          sourceDone = true;
          if (pending === 0) finish();
        },
      });

      return () => {
        stream.off('drain', onDrain);
        gate?.resume(holder);
        if (owned) {
          if (!stream.destroyed && !stream.writableEnded) stream.end();
          // Late errors (a close failing after we are gone) must not become uncaught exceptions.
          stream.on('error', () => undefined);
        }
        stream.off('error', fail);
      };
    });
}

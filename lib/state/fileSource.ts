/**
 * Lines of files as a {@link PositionedSource}, read as `fileLines` reads them: each line's
 * position is its file (by index in the list), line number and, in a plain file, byte offset, so
 * a resumed run reopens the list after the last line processed.
 */
import { open as openFile } from 'node:fs/promises';
import { EMPTY, Observable } from 'rxjs';
import { RivuletError } from '../core/errors';
import { FileLine, FileLinesOptions, readLines } from '../io/files';
import type { PositionedSource } from './positions';

/** A line of the `file`-th path (0-based), 1-based `line`. */
export interface FilePosition {
  file: number;
  line: number;
  /** In a plain file: the byte offset just past the line, where a resumed read starts. */
  offset?: number;
}

export interface PositionedFileLinesOptions<M> extends Omit<FileLinesOptions, 'gate' | 'offsets' | 'startAt'> {
  /**
   * Emitted after the last line of each file (as log-counts' END_OF_DAY), positioned at the
   * start of the next file, so a run resumed after it starts with that file.
   */
  endOfFile?: M;
}

/**
 * Lines of `paths` in order, positioned. Reopening after `{ file, line, offset }` skips the files
 * before `file` and reads a plain one from `offset` on; a compressed file is read again from its
 * start and its first `line` lines dropped (gzip cannot seek). A plain file that no longer has a
 * line ending just before `offset` (shorter, or rewritten) has changed since the position was
 * given: ERR_CHECKPOINT_INCOMPATIBLE, since going on would count part of it twice or not at all.
 */
export function positionedFileLines<M = never>(paths: readonly string[], options: PositionedFileLinesOptions<M> = {}): PositionedSource<FileLine | M, FilePosition> {
  if (!Array.isArray(paths) || paths.length === 0 || paths.some((p) => typeof p !== 'string' || p === '')) {
    throw new RivuletError('ERR_INVALID_OPTION', 'positionedFileLines: paths must be a non-empty list of file paths');
  }
  const list = [...paths];
  const { endOfFile, ...read } = options;
  const marks = 'endOfFile' in options;
  return {
    open(after, gate) {
      const first = after?.file ?? 0;
      const skip = after?.line ?? 0;
      if (!(Number.isInteger(first) && first >= 0 && first <= list.length)) {
        throw new RivuletError('ERR_CHECKPOINT_INCOMPATIBLE', `positionedFileLines: position in file #${first + 1}, but only ${list.length} files were given`);
      }
      if (first === list.length) return EMPTY;
      const files = list.slice(first);
      // A plain file is entered at its offset; one without (gzip) is read again and its first lines dropped.
      const seek = skip > 0 && after?.offset !== undefined ? { byteOffset: after.offset, lineNumber: skip } : undefined;
      if (seek !== undefined && files[0].endsWith('.gz')) {
        throw new RivuletError('ERR_CHECKPOINT_INCOMPATIBLE', `positionedFileLines: the position has a byte offset in ${files[0]}, a compressed file, which only a plain one can have`);
      }
      const lines = readLines<{ value: FileLine | M; position: FilePosition }>(files, { ...read, gate, offsets: true, startAt: seek, skipLines: seek === undefined ? skip : 0 }, {
        // The value is the line as `fileLines` gives it without offsets: the offset is the position's.
        line: (text, source, lineNumber, offset, i) => ({ value: { text, source, lineNumber }, position: { file: first + i, line: lineNumber, offset } }),
        endOfFile: marks ? (i) => ({ value: endOfFile as M, position: { file: first + i + 1, line: 0 } }) : undefined,
      });
      return seek === undefined ? lines : afterCheck(() => checkLineStart(files[0], seek.byteOffset), lines);
    },
    describe: (position) => (position.file >= list.length ? 'end of input' : `${list[position.file]}:${position.line}`),
  };
}

/**
 * `source` once `check` has resolved (its rejection is the error instead). The subscriber is
 * handed to `source` itself, as `defer` does, so the lines pass no step of their own.
 */
function afterCheck<T>(check: () => Promise<void>, source: Observable<T>): Observable<T> {
  return new Observable<T>((subscriber) => {
    check().then(
      () => {
        if (!subscriber.closed) source.subscribe(subscriber);
      },
      (error: unknown) => subscriber.error(error),
    );
  });
}

/**
 * Resolves if a line ends just before `offset` in `path` (or the file ends there: its last line
 * had no line ending); rejects otherwise.
 */
async function checkLineStart(path: string, offset: number): Promise<void> {
  const handle = await openFile(path, 'r').catch((cause: unknown) => {
    throw new RivuletError('ERR_FILE', `positionedFileLines: cannot open ${path}: ${(cause as Error).message}`, { cause });
  });
  try {
    const { size } = await handle.stat();
    const { bytesRead, buffer } = await handle.read(Buffer.alloc(1), 0, 1, offset - 1);
    if (size === offset || (bytesRead === 1 && buffer[0] === 10)) return;
  } finally {
    await handle.close();
  }
  throw new RivuletError(
    'ERR_CHECKPOINT_INCOMPATIBLE',
    `positionedFileLines: ${path} has changed since the checkpoint: no line ends at byte ${offset}, where reading was to go on`,
  );
}

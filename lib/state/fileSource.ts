/**
 * `fileLines` as a {@link PositionedSource}: each line's position is its file (by index in the
 * list) and line number, so a resumed run reopens the list after the last line processed.
 */
import { concat, EMPTY, filter, map, Observable, of } from 'rxjs';
import { RivuletError } from '../core/errors';
import { FileLine, fileLines, FileLinesOptions } from '../io/files';
import type { PositionedSource } from './positions';

/** A line of the `file`-th path (0-based), 1-based `line`. */
export interface FilePosition {
  file: number;
  line: number;
}

export interface PositionedFileLinesOptions<M> extends Omit<FileLinesOptions, 'gate'> {
  /**
   * Emitted after the last line of each file (as log-counts' END_OF_DAY), positioned at the
   * start of the next file, so a run resumed after it starts with that file.
   */
  endOfFile?: M;
}

/**
 * Lines of `paths` in order, positioned. Reopening after `{ file, line }` skips the files before
 * `file` and the first `line` lines of it; a compressed file is read again from its start up to
 * there (gzip cannot seek), a plain one too for now.
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
      return concat(
        ...list.slice(first).map((path, i): Observable<{ value: FileLine | M; position: FilePosition }> => {
          const file = first + i;
          const lines = fileLines(path, { ...read, gate }).pipe(map((value) => ({ value: value as FileLine | M, position: { file, line: value.lineNumber } })));
          const rest = i === 0 && skip > 0 ? lines.pipe(filter((p) => p.position.line > skip)) : lines;
          return marks ? concat(rest, of({ value: endOfFile as M, position: { file: file + 1, line: 0 } })) : rest;
        }),
        EMPTY,
      );
    },
    describe: (position) => (position.file >= list.length ? 'end of input' : `${list[position.file]}:${position.line}`),
  };
}

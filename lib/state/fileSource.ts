/**
 * `fileLines` as a {@link PositionedSource}: each line's position is its file (by index in the
 * list) and line number, so a resumed run reopens the list after the last line processed.
 */
import { concat, filter, map } from 'rxjs';
import { RivuletError } from '../core/errors';
import { FileLine, fileLines, FileLinesOptions } from '../io/files';
import type { PositionedSource } from './positions';

/** A line of the `file`-th path (0-based), 1-based `line`. */
export interface FilePosition {
  file: number;
  line: number;
}

/**
 * Lines of `paths` in order, positioned. Reopening after `{ file, line }` skips the files before
 * `file` and the first `line` lines of it; a compressed file is read again from its start up to
 * there (gzip cannot seek), a plain one too for now.
 */
export function positionedFileLines(paths: readonly string[], options: Omit<FileLinesOptions, 'gate'> = {}): PositionedSource<FileLine, FilePosition> {
  if (!Array.isArray(paths) || paths.length === 0 || paths.some((p) => typeof p !== 'string' || p === '')) {
    throw new RivuletError('ERR_INVALID_OPTION', 'positionedFileLines: paths must be a non-empty list of file paths');
  }
  const list = [...paths];
  return {
    open(after, gate) {
      const first = after?.file ?? 0;
      const skip = after?.line ?? 0;
      if (!(Number.isInteger(first) && first >= 0 && first < list.length)) {
        throw new RivuletError('ERR_CHECKPOINT_INCOMPATIBLE', `positionedFileLines: position in file #${first + 1}, but only ${list.length} files were given`);
      }
      return concat(
        ...list.slice(first).map((path, i) => {
          const file = first + i;
          const lines = fileLines(path, { ...options, gate });
          const positioned = lines.pipe(map((value) => ({ value, position: { file, line: value.lineNumber } })));
          return i === 0 && skip > 0 ? positioned.pipe(filter((p) => p.position.line > skip)) : positioned;
        }),
      );
    },
    describe: (position) => `${list[position.file] ?? `file #${position.file + 1}`}:${position.line}`,
  };
}

import { createReadStream, stat } from 'node:fs';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Observable, Observer } from 'rxjs';
import { FlowGate } from '../core/flowGate';
import { invalidOption, RivuletError } from '../core/errors';
import type { LineFilter } from './lineFilter';
import { ChunkReader } from './chunkReader';
import { ByteLines, LineSplitter, TextLines } from './lineSplitters';

/** Few large reads cost fewer thread-pool round trips; lines are still cut one cache-sized chunk at a time. */
const CHUNKS_PER_READ = 4;

/** One line of a file, without its line ending. */
export interface FileLine {
  text: string;
  /** The path the line was read from, as given. */
  source: string;
  /** 1-based. */
  lineNumber: number;
  /**
   * With `offsets`, in a plain file (not `.gz`): the byte offset just past the line and its line
   * ending, where a read resumed after this line starts (`startAt`).
   */
  endOffset?: number;
}

/**
 * How far the current file has been read: bytes on disk (compressed bytes for `.gz`) and lines.
 * A path listed twice is read twice, each read with events of its own from 0.
 */
export interface FileProgress {
  source: string;
  bytesRead: number;
  totalBytes: number;
  /**
   * Lines cut from the file so far, skipped ones included (from `startAt`'s line number on): the
   * line number reached. Until `done`, the lines of the chunk just read are not yet in it.
   */
  linesRead: number;
  /** True on the one event after the file's last line (an empty file has that event only): `linesRead` is then the file's count. */
  done: boolean;
}

export interface FileLinesOptions {
  /**
   * While paused, the file is not read further (memory stays bounded by three reads of a plain
   * file: the one being cut into lines and the two read ahead).
   */
  gate?: FlowGate;
  /**
   * Told after every chunk is read (64 KiB by default; compressed bytes for gzip), before its
   * lines are cut, and once more after a file's last line, with `done` and `bytesRead ===
   * totalBytes`; a failed or unsubscribed read has no `done` event. Only `next` is called: one
   * observer may watch several sources. A count of lines per file costs a call per chunk here,
   * where a `tap` costs one per line.
   */
  progress?: Partial<Observer<FileProgress>>;
  /**
   * Size of the pieces a file is cut into lines by, 64 KiB by default; a plain file is read from
   * disk four pieces at a time.
   */
  chunkBytes?: number;
  /**
   * Emits only the lines this keeps; the others are skipped (line numbers still count them). A
   * {@link LineFilter} with `acceptBinary` (such as `jsonMemberFilter`) sees each line's bytes
   * before they are decoded, so a skipped line is never turned into a string.
   */
  accept?: LineFilter | ((text: string) => boolean);
  /** Gives each line of a plain file its `endOffset`. */
  offsets?: boolean;
  /**
   * Starts the first file at `byteOffset`, numbering its lines from `lineNumber + 1`: the
   * `endOffset` and `lineNumber` of the line a read goes on after. The first file must be plain
   * (a gzip stream cannot be entered in the middle); no byte order mark is looked for there.
   */
  startAt?: { byteOffset: number; lineNumber: number };
}

/** {@link FileLinesOptions} with a value to emit after each file's last line. */
export interface FileLinesWithMarkers<M> extends FileLinesOptions {
  /**
   * Emitted after the last line of each file (an empty file included), before the next file is
   * opened: log-counts' END_OF_DAY, without a `concat` around every file.
   */
  endOfFile: M;
}

/**
 * Reads files line by line, in the given order, as an Observable of {@link FileLine}.
 *
 * Like `readline` over a chain of `fs.createReadStream`s, but lazy, cancellable and paced by a
 * {@link FlowGate}: nothing is opened until subscription, and at most three reads are in memory
 * at a time (a plain file's next two reads are under way while the current one is cut into lines,
 * so the disk and the pipeline work at once, and one slow read does not stall the pipeline).
 * Files whose name ends in `.gz` are gunzipped (concatenated gzip members included). Lines end
 * at `\n`; a `\r` before it is dropped (CRLF files); a last line without a newline is still
 * emitted; a UTF-8 byte order mark at the start of a file is skipped. Bytes that are not valid
 * UTF-8 become U+FFFD (the replacement character), as `readline` and most line tools do: a bad
 * byte spoils one character, never the replay.
 *
 * With `accept`, only the lines it keeps are emitted, with their own line numbers; with a byte
 * filter, lines are cut from each chunk as byte ranges and only kept lines are decoded, each on
 * its own (the same text as decoding the whole file, since a line end is never part of a
 * multi-byte character).
 *
 * With `endOfFile`, that value follows each file's last line, as `concat(fileLines(file),
 * of(marker))` per file would give it, in the same step as the lines.
 *
 * With `offsets`, each line of a plain file carries the byte offset just past it; with `startAt`,
 * the first file is read from such an offset on, so a resumed read costs nothing for the part
 * before it (`positionedFileLines` resumes checkpointed runs this way).
 *
 * ```text
 * a.log: "x\r\ny\n"   b.log.gz: gzip("z")
 * fileLines(['a.log', 'b.log.gz']):  x y z|   ({ text, source, lineNumber })
 * ```
 *
 * Completion: after the last line of the last file. Error: a file that cannot be opened or read,
 * or a corrupt or truncated gzip stream, errors with ERR_FILE naming the path (lines before the
 * fault were already emitted). Unsubscribe: destroys the open streams and stops listening to the
 * gate.
 *
 * @example
 * ```ts
 * fileLines(['day_1.log', 'day_2.log']).subscribe((line) => console.log(line.source, line.lineNumber, line.text));
 * // day_1.log 1 64.242.88.10 - - [07/Mar/2004:16:05:49 -0800] "GET /twiki/bin/edit/... HTTP/1.1" 401 12846
 * ```
 */
export function fileLines<M>(paths: string | readonly string[], options: FileLinesWithMarkers<M>): Observable<FileLine | M>;
export function fileLines(paths: string | readonly string[], options?: FileLinesOptions): Observable<FileLine>;
export function fileLines<M>(paths: string | readonly string[], options: FileLinesOptions | FileLinesWithMarkers<M> = {}): Observable<FileLine | M> {
  const marker = 'endOfFile' in options ? { value: options.endOfFile } : undefined;
  return readLines<FileLine | M>(typeof paths === 'string' ? [paths] : paths, options, {
    line: (text, source, lineNumber, endOffset) => (endOffset === undefined ? { text, source, lineNumber } : { text, source, lineNumber, endOffset }),
    endOfFile: marker && (() => marker.value),
  });
}

/**
 * How {@link readLines} makes what it emits, in the reader's own step: `positionedFileLines`
 * makes its value and position pairs here, rather than in a `map` after `fileLines` that would
 * cost a step and an object more per line. Internal to lib.
 */
export interface LineValues<V> {
  /** A kept line; `endOffset` with `offsets`, in a plain file; `fileIndex` counts from 0 in `paths`. */
  line(text: string, source: string, lineNumber: number, endOffset: number | undefined, fileIndex: number): V;
  /** After each file's last line, when given. */
  endOfFile?: (fileIndex: number) => V;
}

/**
 * {@link fileLines} with the values made by `values`. `skipLines`: the first file's first lines
 * up to that line number are counted but not emitted (a resumed read where no byte offset is
 * known, as in a gzip file). Internal to lib.
 */
export function readLines<V>(paths: readonly string[], options: FileLinesOptions & { skipLines?: number }, values: LineValues<V>): Observable<V> {
  const files = [...paths];
  const { gate, progress, chunkBytes = 64 * 1024, accept } = options;
  for (const path of files) {
    if (typeof path !== 'string' || path === '') throw invalidOption('fileLines', 'every path must be a non-empty string');
  }
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1) throw invalidOption('fileLines', `chunkBytes must be an integer >= 1, got ${String(chunkBytes)}`);
  const filter = accept === undefined ? undefined : typeof accept === 'function' ? { acceptText: accept } : accept;
  if (filter !== undefined && typeof filter?.acceptText !== 'function') throw invalidOption('fileLines', 'accept must be a function of the line or a LineFilter');
  const acceptText = filter?.acceptText.bind(filter);
  const acceptBinary = filter?.acceptBinary?.bind(filter);
  // The text filter runs only where no byte filter has already decided.
  const keepText = acceptBinary === undefined ? acceptText : undefined;
  const { offsets, startAt, skipLines = 0 } = options;
  const { line: valueOf, endOfFile } = values;
  if (startAt !== undefined) {
    const { byteOffset, lineNumber } = startAt;
    if (!(Number.isSafeInteger(byteOffset) && byteOffset >= 0 && Number.isSafeInteger(lineNumber) && lineNumber >= 0)) {
      throw invalidOption('fileLines', `startAt needs a byteOffset and a lineNumber that are integers >= 0, got ${String(byteOffset)} and ${String(lineNumber)}`);
    }
    if (files[0].endsWith('.gz')) throw invalidOption('fileLines', `startAt: ${files[0]} is compressed, and a gzip stream can only be read from its start`);
  }

  return new Observable<V>((subscriber) => {
    let index = 0;
    /** The file being read: paused, resumed and closed with the gate and the subscription. */
    let reading: { pause(): void; resume(): void; destroy(): void } | undefined;
    let stopGate: (() => void) | undefined;
    let closed = false;

    const fail = (path: string, what: string, cause: unknown) => {
      const reason = cause instanceof Error ? cause.message : String(cause);
      subscriber.error(new RivuletError('ERR_FILE', `fileLines: ${what} ${path}: ${reason}`, { cause }));
    };

    const openNext = () => {
      if (closed) return;
      if (index === files.length) {
        subscriber.complete();
        return;
      }
      const path = files[index++];
      stat(path, (statError, stats) => {
        if (closed) return;
        if (statError) return fail(path, 'cannot open', statError);
        if (!stats.isFile()) return fail(path, 'cannot read', new Error('not a regular file'));
        readFile(path, stats.size, index === 1 ? startAt : undefined);
      });
    };

    const readFile = (path: string, totalBytes: number, from?: FileLinesOptions['startAt']) => {
      const gzip = path.endsWith('.gz');
      const withOffsets = offsets === true && !gzip;
      let bytesRead = from?.byteOffset ?? 0;
      let lineNumber = from?.lineNumber ?? 0;
      const readFromDisk = (chunk: Buffer) => {
        bytesRead += chunk.length;
        progress?.next?.({ source: path, bytesRead, totalBytes, linesRead: lineNumber, done: false });
      };

      const fileIndex = index - 1;
      const skipTo = fileIndex === 0 ? skipLines : 0;
      // Each line the splitter keeps; true once the subscriber has gone, to stop the splitter.
      const emit = (text: string, endOffset: number): boolean => {
        lineNumber++;
        if ((keepText === undefined || keepText(text)) && lineNumber > skipTo) {
          subscriber.next(valueOf(text, path, lineNumber, withOffsets ? endOffset : undefined, fileIndex));
        }
        return closed;
      };
      const atFileStart = from === undefined;
      const splitter: LineSplitter =
        acceptBinary === undefined
          ? new TextLines(emit, atFileStart, withOffsets, from?.byteOffset)
          : new ByteLines(emit, acceptBinary, () => lineNumber++, atFileStart, from?.byteOffset);
      const ended = () => {
        if (closed) return;
        splitter.end();
        if (closed) return;
        progress?.next?.({ source: path, bytesRead: totalBytes, totalBytes, linesRead: lineNumber, done: true });
        reading = undefined;
        if (endOfFile !== undefined) subscriber.next(endOfFile(fileIndex));
        openNext();
      };
      reading = gzip ? gunzipped(path, readFromDisk, splitter, ended, fail) : new ChunkReader(path, chunkBytes, chunkBytes * CHUNKS_PER_READ, from?.byteOffset ?? 0, {
        chunk(bytes) {
          readFromDisk(bytes);
          if (!closed) splitter.push(bytes);
        },
        end: ended,
        error: (err) => fail(path, 'cannot read', err),
      });
      if (gate?.paused) reading.pause();
    };

    /** A gzip file through zlib's stream: raw chunks count as read from disk, inflated ones are cut. */
    const gunzipped = (path: string, readFromDisk: (chunk: Buffer) => void, splitter: LineSplitter, ended: () => void, failed: typeof fail) => {
      const raw: Readable = createReadStream(path, { highWaterMark: chunkBytes });
      // zlib takes no output chunks below 64 bytes.
      const lines: Readable = raw.pipe(createGunzip({ chunkSize: Math.max(64, chunkBytes) }));
      raw.on('error', (err) => failed(path, 'cannot read', err));
      lines.on('error', (err) => failed(path, 'corrupt gzip data in', err));
      if (progress?.next) raw.on('data', readFromDisk);
      lines.on('data', (chunk: Buffer) => splitter.push(chunk));
      lines.on('end', ended);
      return {
        pause: () => lines.pause(),
        resume: () => lines.resume(),
        destroy: () => {
          lines.destroy();
          raw.destroy();
        },
      };
    };

    if (gate) {
      stopGate = gate.onChange((paused) => {
        if (paused) reading?.pause();
        else reading?.resume();
      });
    }
    openNext();

    return () => {
      closed = true;
      stopGate?.();
      reading?.destroy();
    };
  });
}

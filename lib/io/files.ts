import { createReadStream, stat } from 'node:fs';
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { Observable, Observer } from 'rxjs';
import { FlowGate } from '../core/flowGate';
import { invalidOption, RivuletError } from '../core/errors';
import type { LineFilter } from './lineFilter';

/** The UTF-8 byte order mark as a binary string. */
const BYTE_ORDER_MARK = '\xef\xbb\xbf';

/** One line of a file, without its line ending. */
export interface FileLine {
  text: string;
  /** The path the line was read from, as given. */
  source: string;
  /** 1-based. */
  lineNumber: number;
}

/** How far the current file has been read, in bytes on disk (compressed bytes for `.gz`). */
export interface FileProgress {
  source: string;
  bytesRead: number;
  totalBytes: number;
}

export interface FileLinesOptions {
  /** While paused, the file is not read (memory stays bounded by one chunk). */
  gate?: FlowGate;
  /**
   * Told after every chunk read from disk (64 KiB by default), and once more with
   * `bytesRead === totalBytes` when a file ends. Only `next` is called: one observer may watch
   * several sources.
   */
  progress?: Partial<Observer<FileProgress>>;
  /** Size of the reads from disk; 64 KiB by default. */
  chunkBytes?: number;
  /**
   * Emits only the lines this keeps; the others are skipped (line numbers still count them). A
   * {@link LineFilter} with `acceptBinary` (such as `jsonMemberFilter`) sees each line's bytes
   * before they are decoded, so a skipped line is never turned into a string.
   */
  accept?: LineFilter | ((text: string) => boolean);
}

/**
 * Reads files line by line, in the given order, as an Observable of {@link FileLine}.
 *
 * Like `readline` over a chain of `fs.createReadStream`s, but lazy, cancellable and paced by a
 * {@link FlowGate}: nothing is opened until subscription, and only one chunk is in memory at a
 * time. Files whose name ends in `.gz` are gunzipped (concatenated gzip members included). Lines
 * end at `\n`; a `\r` before it is dropped (CRLF files); a last line without a newline is still
 * emitted; a UTF-8 byte order mark at the start of a file is skipped. Bytes that are not valid
 * UTF-8 become U+FFFD (the replacement character), as `readline` and most line tools do: a bad
 * byte spoils one character, never the replay.
 *
 * With `accept`, only the lines it keeps are emitted, with their own line numbers; with a byte
 * filter, lines are cut from each chunk as byte ranges and only kept lines are decoded, each on
 * its own (the same text as decoding the whole file, since a line end is never part of a
 * multi-byte character).
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
export function fileLines(paths: string | readonly string[], options: FileLinesOptions = {}): Observable<FileLine> {
  const files = typeof paths === 'string' ? [paths] : [...paths];
  const { gate, progress, chunkBytes = 64 * 1024, accept } = options;
  for (const path of files) {
    if (typeof path !== 'string' || path === '') throw invalidOption('fileLines', 'every path must be a non-empty string');
  }
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1) throw invalidOption('fileLines', `chunkBytes must be an integer >= 1, got ${String(chunkBytes)}`);
  const filter = accept === undefined ? undefined : typeof accept === 'function' ? { acceptText: accept } : accept;
  if (filter !== undefined && typeof filter?.acceptText !== 'function') throw invalidOption('fileLines', 'accept must be a function of the line or a LineFilter');
  const acceptText = filter?.acceptText.bind(filter);
  const acceptBinary = filter?.acceptBinary?.bind(filter);

  return new Observable<FileLine>((subscriber) => {
    let index = 0;
    let raw: Readable | undefined;
    let lines: Readable | undefined;
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
        readFile(path, stats.size);
      });
    };

    const readFile = (path: string, totalBytes: number) => {
      const decoder = new StringDecoder('utf8');
      const gzip = path.endsWith('.gz');
      let bytesRead = 0;
      let lineNumber = 0;
      let rest = '';
      let first = true;

      raw = createReadStream(path, { highWaterMark: chunkBytes });
      // zlib takes no output chunks below 64 bytes.
      lines = gzip ? raw.pipe(createGunzip({ chunkSize: Math.max(64, chunkBytes) })) : raw;
      raw.on('error', (err) => fail(path, 'cannot read', err));
      if (gzip) lines.on('error', (err) => fail(path, 'corrupt gzip data in', err));
      if (progress?.next) {
        raw.on('data', (chunk: Buffer) => {
          bytesRead += chunk.length;
          progress.next?.({ source: path, bytesRead, totalBytes });
        });
      }

      const emitText = (text: string) => {
        // A byte order mark split across reads arrives once decoded: the first non-empty text.
        if (first && text !== '') {
          first = false;
          if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        }
        let start = 0;
        let end = text.indexOf('\n');
        if (end === -1) {
          rest += text;
          return;
        }
        // The first line of the chunk completes what the previous chunk left over.
        let line = rest + text.slice(0, end);
        rest = '';
        for (;;) {
          if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
          lineNumber++;
          if (acceptText === undefined || acceptText(line)) subscriber.next({ text: line, source: path, lineNumber });
          if (closed) return;
          start = end + 1;
          end = text.indexOf('\n', start);
          if (end === -1) break;
          line = text.slice(start, end);
        }
        rest = text.slice(start);
      };

      // Byte lines: each chunk is read as a binary string (one character per byte, a plain copy),
      // the filter runs on the line's stretch of it, and only kept lines are decoded. A line a
      // chunk leaves unfinished waits, as bytes, for the next chunk.
      let carry: Buffer[] = [];
      const emitLines = (chunk: Buffer, binary: string, start: number, last: boolean) => {
        for (;;) {
          let end = binary.indexOf('\n', start);
          if (lineNumber === 0 && binary.startsWith(BYTE_ORDER_MARK, start) && (end !== -1 || last)) start += 3;
          if (end === -1) {
            if (!last) {
              if (start < chunk.length) carry.push(chunk.subarray(start));
              return;
            }
            if (start === chunk.length) return; // no last line without a newline
            end = chunk.length;
          }
          const next = end + 1;
          if (end > start && binary.charCodeAt(end - 1) === 13) end--;
          lineNumber++;
          if (acceptBinary!(binary, start, end)) subscriber.next({ text: chunk.toString('utf8', start, end), source: path, lineNumber });
          if (closed || next > chunk.length) return;
          start = next;
        }
      };
      const emitBytes = (chunk: Buffer) => {
        if (carry.length > 0) {
          const newline = chunk.indexOf(10);
          if (newline === -1) {
            carry.push(chunk);
            return;
          }
          // The first line of the chunk completes the carried part: that line alone is copied.
          const line = Buffer.concat([...carry, chunk.subarray(0, newline + 1)]);
          carry = [];
          emitLines(line, line.toString('latin1'), 0, false);
          if (closed) return;
          chunk = chunk.subarray(newline + 1);
        }
        emitLines(chunk, chunk.toString('latin1'), 0, false);
      };

      lines.on('data', acceptBinary !== undefined ? emitBytes : (chunk: Buffer) => emitText(decoder.write(chunk)));
      lines.on('end', () => {
        if (closed) return;
        if (acceptBinary !== undefined) {
          if (carry.length > 0) {
            const last = Buffer.concat(carry);
            carry = [];
            emitLines(last, last.toString('latin1'), 0, true);
          }
        } else {
          emitText(decoder.end());
          if (rest !== '') {
            const line = rest.charCodeAt(rest.length - 1) === 13 ? rest.slice(0, -1) : rest;
            rest = '';
            lineNumber++;
            if (acceptText === undefined || acceptText(line)) subscriber.next({ text: line, source: path, lineNumber });
          }
        }
        if (closed) return;
        if (progress?.next && bytesRead !== totalBytes) progress.next({ source: path, bytesRead: totalBytes, totalBytes });
        raw = lines = undefined;
        openNext();
      });
      if (gate?.paused) lines.pause();
    };

    if (gate) {
      stopGate = gate.onChange((paused) => {
        if (paused) lines?.pause();
        else lines?.resume();
      });
    }
    openNext();

    return () => {
      closed = true;
      stopGate?.();
      lines?.destroy();
      raw?.destroy();
    };
  });
}

/**
 * The two ways `fileLines` cuts a file's chunks into lines, each able to say where in the file a
 * line ends: by decoding each chunk whole and cutting the text, or, with a byte filter, by cutting
 * the bytes and decoding only the lines the filter keeps. Internal to lib/io.
 */
import { Buffer, isAscii } from 'node:buffer';
import { StringDecoder } from 'node:string_decoder';

/** The UTF-8 byte order mark as a binary string. */
const BYTE_ORDER_MARK = '\xef\xbb\xbf';
const NEWLINE = 10;
const CARRIAGE_RETURN = 13;

/**
 * Told each line without its line ending, with the byte offset just past that line ending
 * (the chunks' offsets are counted from `startOffset`). Returns true to stop at once.
 */
export type LineSink = (text: string, endOffset: number) => boolean;

export interface LineSplitter {
  push(chunk: Buffer): void;
  /** The last line, when the file does not end with a newline. */
  end(): void;
}

/**
 * Decodes each chunk and cuts the text at `\n`. A line's end offset is found from the text when
 * the chunk is plain ASCII (one character per byte) and from the chunk's bytes otherwise: a
 * newline is a byte of its own in UTF-8, so the k-th newline of the text is the k-th of the bytes.
 */
export class TextLines implements LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private rest = '';
  private base: number;

  /**
   * @param atFileStart a byte order mark is skipped only here
   * @param offsets whether end offsets are wanted (else they are not computed, and are 0)
   */
  constructor(private readonly sink: LineSink, private atFileStart: boolean, private readonly offsets: boolean, startOffset = 0) {
    this.base = startOffset;
  }

  push(chunk: Buffer): void {
    this.cut(this.decoder.write(chunk), chunk);
    this.base += chunk.length;
  }

  end(): void {
    this.cut(this.decoder.end(), undefined);
    const rest = this.rest;
    this.rest = '';
    if (rest !== '') this.sink(rest.charCodeAt(rest.length - 1) === CARRIAGE_RETURN ? rest.slice(0, -1) : rest, this.base);
  }

  private cut(text: string, chunk: Buffer | undefined): void {
    // A byte order mark split across reads arrives once decoded: the first non-empty text.
    if (this.atFileStart && text !== '') {
      this.atFileStart = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    let end = text.indexOf('\n');
    if (end === -1) {
      this.rest += text;
      return;
    }
    const direct = !this.offsets || (chunk !== undefined && text.length === chunk.length && isAscii(chunk));
    let newlineByte = -1;
    const endOffset = (): number => {
      if (!this.offsets) return 0;
      if (direct) return this.base + end + 1;
      newlineByte = chunk!.indexOf(NEWLINE, newlineByte + 1);
      return this.base + newlineByte + 1;
    };
    let start = 0;
    // The first line of the chunk completes what the previous chunk left over.
    let line = this.rest + text.slice(0, end);
    this.rest = '';
    for (;;) {
      if (line.charCodeAt(line.length - 1) === CARRIAGE_RETURN) line = line.slice(0, -1);
      if (this.sink(line, endOffset())) return;
      start = end + 1;
      end = text.indexOf('\n', start);
      if (end === -1) break;
      line = text.slice(start, end);
    }
    this.rest = text.slice(start);
  }
}

/**
 * Cuts each chunk's bytes at newlines, read as a binary string (one character per byte, a plain
 * copy); `accept` runs on the line's stretch of it and only kept lines are decoded. A line a chunk
 * leaves unfinished waits, as bytes, for the next chunk.
 */
export class ByteLines implements LineSplitter {
  private carry: Buffer[] = [];
  private carried = 0;
  private base: number;

  /**
   * @param accept whether to keep the line `bytes.slice(start, end)`; a skipped line still counts
   * @param atFileStart a byte order mark is skipped only here
   */
  constructor(
    private readonly sink: LineSink,
    private readonly accept: (bytes: string, start: number, end: number) => boolean,
    private readonly skipped: () => void,
    private atFileStart: boolean,
    startOffset = 0,
  ) {
    this.base = startOffset;
  }

  push(chunk: Buffer): void {
    const chunkStart = this.base;
    this.base += chunk.length;
    if (this.carry.length > 0) {
      const newline = chunk.indexOf(NEWLINE);
      if (newline === -1) {
        this.carry.push(chunk);
        this.carried += chunk.length;
        return;
      }
      // The first line of the chunk completes the carried part: that line alone is copied.
      const line = Buffer.concat([...this.carry, chunk.subarray(0, newline + 1)]);
      const lineStart = chunkStart - this.carried;
      this.carry = [];
      this.carried = 0;
      if (this.cut(line, lineStart, false)) return;
      this.cut(chunk.subarray(newline + 1), chunkStart + newline + 1, false);
      return;
    }
    this.cut(chunk, chunkStart, false);
  }

  end(): void {
    if (this.carry.length === 0) return;
    const last = Buffer.concat(this.carry);
    this.carry = [];
    this.carried = 0;
    this.cut(last, this.base - last.length, true);
  }

  /** Returns true when the sink asked to stop. */
  private cut(chunk: Buffer, chunkStart: number, last: boolean): boolean {
    const binary = chunk.toString('latin1');
    let start = 0;
    for (;;) {
      let end = binary.indexOf('\n', start);
      if (this.atFileStart && binary.startsWith(BYTE_ORDER_MARK, start) && (end !== -1 || last)) start += 3;
      if (end === -1) {
        if (!last) {
          if (start < chunk.length) {
            this.carry.push(chunk.subarray(start));
            this.carried += chunk.length - start;
          }
          return false;
        }
        if (start === chunk.length) return false; // no last line without a newline
        end = chunk.length;
      }
      this.atFileStart = false;
      const next = end + 1;
      if (end > start && binary.charCodeAt(end - 1) === CARRIAGE_RETURN) end--;
      if (this.accept(binary, start, end)) {
        if (this.sink(chunk.toString('utf8', start, end), chunkStart + Math.min(next, chunk.length))) return true;
      } else {
        this.skipped();
      }
      if (next > chunk.length) return false;
      start = next;
    }
  }
}

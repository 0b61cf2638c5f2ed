/**
 * Reads a plain file in chunks with the next read already under way while the current chunk is
 * handled. A `fs.ReadStream` asks for its next chunk only after the 'data' handler has returned,
 * so a process that cuts and filters lines waits for every read in turn; here the disk (the
 * thread pool) and the handler work at the same time. Internal to lib/io.
 */
import { close, open, read } from 'node:fs';

export interface ChunkReaderEvents {
  /** A chunk of the file, in order; the reader keeps no reference to it afterwards. */
  chunk(bytes: Buffer): void;
  /** After the last chunk. */
  end(): void;
  /** The file could not be opened or read; nothing follows. */
  error(err: Error): void;
  /** The file is closed (after the end, an error or destroy), or was never opened. */
  closed?(): void;
}

/**
 * Reads `readBytes` at a time and hands them on in pieces of `chunkBytes`: few, large reads keep
 * the thread pool's round trips off the hot path, while pieces small enough to stay in the CPU's
 * cache keep the decoding and line cutting quick. At most two reads' worth exists at a time: the
 * one being handed on and the next (read, or waiting while paused). Nothing is delivered after
 * {@link destroy}; the file is closed once no read is in flight on it, so the descriptor is never
 * reused under a pending read.
 */
export class ChunkReader {
  private fd: number | undefined;
  private position: number;
  private reading = false;
  /** What is left to hand on of the current read. */
  private queue: Buffer | undefined;
  /** The next read, done while the current one was handed on or while paused (null: the end). */
  private arrived: Buffer | null | undefined;
  private paused = false;
  private pumping = false;
  private done = false;

  constructor(
    private readonly path: string,
    private readonly chunkBytes: number,
    private readonly readBytes: number,
    start: number,
    private readonly on: ChunkReaderEvents,
  ) {
    this.position = start;
    this.reading = true; // the open counts as a read in flight: destroy waits for it
    open(path, 'r', (err, fd) => {
      this.reading = false;
      if (this.done) {
        if (err) this.on.closed?.();
        else close(fd, () => this.on.closed?.());
        return;
      }
      if (err) {
        this.fail(err);
        this.on.closed?.();
        return;
      }
      this.fd = fd;
      this.readNext();
    });
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused || this.done) return;
    this.paused = false;
    this.pump();
  }

  /** Stops at once: no further events. */
  destroy(): void {
    if (this.done) return;
    this.done = true;
    this.queue = this.arrived = undefined;
    if (!this.reading) this.closeFd();
  }

  private readNext(): void {
    if (this.reading || this.done || this.fd === undefined || this.arrived !== undefined) return;
    this.reading = true;
    const buffer = Buffer.allocUnsafe(this.readBytes);
    read(this.fd, buffer, 0, this.readBytes, this.position, (err, bytesRead) => {
      this.reading = false;
      if (this.done) return this.closeFd();
      if (err) return this.fail(err);
      this.position += bytesRead;
      this.arrived = bytesRead === 0 ? null : bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
      this.pump();
    });
  }

  /** Hands on pieces until paused, stopped or out of bytes; a handler that resumes re-enters here and returns. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.done && !this.paused) {
        let queue = this.queue;
        if (queue === undefined) {
          const arrived = this.arrived;
          if (arrived === undefined) {
            this.readNext();
            return;
          }
          if (arrived === null) {
            this.finish();
            return;
          }
          queue = arrived;
          this.arrived = undefined;
          this.readNext(); // the next read runs while this one is handed on
        }
        const size = this.chunkBytes;
        this.queue = queue.length > size ? queue.subarray(size) : undefined;
        this.on.chunk(queue.length > size ? queue.subarray(0, size) : queue);
      }
    } finally {
      this.pumping = false;
    }
  }

  private finish(): void {
    this.done = true;
    this.closeFd();
    this.on.end();
  }

  private fail(err: Error): void {
    this.done = true;
    this.queue = this.arrived = undefined;
    this.closeFd();
    this.on.error(err);
  }

  private closeFd(): void {
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) close(fd, () => this.on.closed?.());
  }
}

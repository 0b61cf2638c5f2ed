/**
 * Reads a plain file in chunks with the next reads already under way while the current chunk is
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

/** One read of the file, issued in file order; it may complete before the reads issued earlier. */
interface Read {
  readonly position: number;
  /** undefined while in flight; null for the end (no bytes at `position`). */
  bytes: Buffer | null | undefined;
  /** Dropped unread: a short read before it meant it was issued at the wrong position. */
  dropped: boolean;
}

/**
 * Reads `readBytes` at a time and hands them on in pieces of `chunkBytes`: few, large reads keep
 * the thread pool's round trips off the hot path, while pieces small enough to stay in the CPU's
 * cache keep the decoding and line cutting quick. Up to `readsAhead` reads run or wait ahead of
 * the one being handed on, so a read that is slow to come back (a page-cache copy on a busy
 * machine can take a millisecond) is still hidden behind the handling of the ones before it; at
 * most `readsAhead + 1` reads' worth exists at a time, paused or not. Reads are positional, so
 * several can be in flight on one descriptor; they are handed on in file order, and a short read
 * (the end, or a file that has grown since) drops the reads issued after it and reads on from
 * where it ended. Nothing is delivered after {@link destroy}; the file is closed once no read is
 * in flight on it, so the descriptor is never reused under a pending read.
 */
export class ChunkReader {
  private fd: number | undefined;
  /** Where the next read to issue starts. */
  private position: number;
  /** Reads issued and not yet back (the open counts as one): the file closes only at 0. */
  private inFlight = 0;
  /** Reads issued and not yet handed on, in file order. */
  private readonly ahead: Read[] = [];
  /** What is left to hand on of the current read. */
  private queue: Buffer | undefined;
  private paused = false;
  private pumping = false;
  private done = false;

  constructor(
    private readonly path: string,
    private readonly chunkBytes: number,
    private readonly readBytes: number,
    start: number,
    private readonly on: ChunkReaderEvents,
    private readonly readsAhead = 2,
  ) {
    this.position = start;
    this.inFlight = 1; // the open: destroy waits for it
    open(path, 'r', (err, fd) => {
      this.inFlight -= 1;
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
      this.readAhead();
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
    this.stop();
  }

  /** Issues reads until `readsAhead` are running or waiting to be handed on. */
  private readAhead(): void {
    const fd = this.fd;
    if (this.done || fd === undefined) return;
    while (this.ahead.length < this.readsAhead) {
      const next: Read = { position: this.position, bytes: undefined, dropped: false };
      this.position += this.readBytes;
      this.ahead.push(next);
      this.inFlight += 1;
      const buffer = Buffer.allocUnsafe(this.readBytes);
      read(fd, buffer, 0, this.readBytes, next.position, (err, bytesRead) => {
        this.inFlight -= 1;
        if (this.done) {
          if (this.inFlight === 0) this.closeFd();
          return;
        }
        if (next.dropped) return;
        if (err) return this.fail(err);
        next.bytes = bytesRead === 0 ? null : bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
        this.pump();
      });
    }
  }

  /** Hands on pieces until paused, stopped or out of bytes; a handler that resumes re-enters here and returns. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.done && !this.paused) {
        let queue = this.queue;
        if (queue === undefined) {
          const first = this.ahead[0];
          if (first === undefined || first.bytes === undefined) return;
          this.ahead.shift();
          if (first.bytes === null) {
            this.finish();
            return;
          }
          queue = first.bytes;
          if (queue.length < this.readBytes) {
            // The reads after a short one assumed a full one: read on from where it ended.
            for (const dropped of this.ahead) dropped.dropped = true;
            this.ahead.length = 0;
            this.position = first.position + queue.length;
          }
          this.readAhead(); // the next reads run while this one is handed on
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
    this.stop();
    this.on.end();
  }

  private fail(err: Error): void {
    this.stop();
    this.on.error(err);
  }

  /** No more events; the file closes now, or when the last read in flight is back. */
  private stop(): void {
    this.done = true;
    this.queue = undefined;
    this.ahead.length = 0;
    if (this.inFlight === 0) this.closeFd();
  }

  private closeFd(): void {
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) close(fd, () => this.on.closed?.());
  }
}

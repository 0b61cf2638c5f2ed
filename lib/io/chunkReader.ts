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
 * At most two chunks exist at a time: the one being handled and the one being read (or, while
 * paused, read and waiting). Nothing is delivered after {@link destroy}; the file is closed once
 * no read is in flight on it, so the descriptor is never reused under a pending read.
 */
export class ChunkReader {
  private fd: number | undefined;
  private position: number;
  private reading = false;
  /** A chunk read while paused, or the end found while paused (null). */
  private held: Buffer | null | undefined;
  private paused = false;
  private done = false;

  constructor(private readonly path: string, private readonly chunkBytes: number, start: number, private readonly on: ChunkReaderEvents) {
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
    const held = this.held;
    this.held = undefined;
    if (held === null) this.finish();
    else if (held !== undefined) this.deliver(held);
    else this.readNext();
  }

  /** Stops at once: no further events. */
  destroy(): void {
    if (this.done) return;
    this.done = true;
    this.held = undefined;
    if (!this.reading) this.closeFd();
  }

  private readNext(): void {
    if (this.reading || this.done || this.fd === undefined) return;
    this.reading = true;
    const buffer = Buffer.allocUnsafe(this.chunkBytes);
    read(this.fd, buffer, 0, this.chunkBytes, this.position, (err, bytesRead) => {
      this.reading = false;
      if (this.done) return this.closeFd();
      if (err) return this.fail(err);
      this.position += bytesRead;
      const chunk = bytesRead === 0 ? null : bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
      if (this.paused) this.held = chunk;
      else if (chunk === null) this.finish();
      else this.deliver(chunk);
    });
  }

  private deliver(chunk: Buffer): void {
    this.readNext(); // the next read runs while this chunk is handled
    this.on.chunk(chunk);
  }

  private finish(): void {
    this.done = true;
    this.closeFd();
    this.on.end();
  }

  private fail(err: Error): void {
    this.done = true;
    this.closeFd();
    this.on.error(err);
  }

  private closeFd(): void {
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) close(fd, () => this.on.closed?.());
  }
}

import { RivuletError, RivuletErrorCode, invalidOption, requireInteger } from '../core/errors';

/**
 * Framing: how a byte stream (a TCP connection) is cut into messages, both ways.
 *
 * - {@link lengthPrefixed}: Wallaroo's wire format, a big-endian unsigned length header
 *   (`headerBytes` 1, 2 or 4) followed by that many payload bytes.
 * - {@link newlineDelimited}: text lines ending at `\n`; a `\r` just before it is dropped.
 *
 * Both enforce `maxFrameBytes` (default 1 MiB) on decode, before buffering the payload, and on
 * encode. Decoding is streaming: push chunks as they arrive, frames come out of a callback.
 *
 * ```ts
 * const framing = lengthPrefixed();
 * const decoder = framing.textDecoder((text) => console.log(text), { peer: '127.0.0.1:5000' });
 * const wire = Buffer.concat([framing.encode('GET /'), framing.encode('END_OF_DAY')]);
 * decoder.push(wire.subarray(0, 7)); // logs 'GET /'
 * decoder.push(wire.subarray(7));    // logs 'END_OF_DAY'
 * decoder.end();                     // nothing pending: no error
 * ```
 */
export type Framing = LengthPrefixed | NewlineDelimited;

/** The default `maxFrameBytes`: 1 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 1_048_576;

/** Where a stream of frames comes from, used only to make error messages name the peer. */
export interface DecoderContext {
  /** The peer, e.g. `'127.0.0.1:53122'`; appears in every error of this decoder. */
  peer?: string;
}

/**
 * A streaming decoder for one byte stream (one connection). `push` delivers every frame that the
 * chunk completes, synchronously and in order; `end` says the stream ended.
 *
 * Errors are thrown (a {@link FrameError}) by the `push` or `end` call that detects them, after the
 * frames that came before the bad one have been delivered; the decoder is then failed and every
 * later call throws the same error. If `onFrame` throws, the decoder stays consistent (the frame
 * counts as delivered, the rest of the chunk is kept) and the exception propagates; the next
 * `push` (an empty chunk will do) continues with the kept bytes.
 *
 * Buffer frames may share memory with the pushed chunk (no copy unless a frame spans chunks):
 * copy a frame you keep if the producer reuses its chunks.
 */
export interface FrameDecoder {
  push(chunk: Buffer): void;
  /** The stream ended: throws ERR_FRAME_TRUNCATED if a frame was started but not completed. */
  end(): void;
  /** Frames delivered so far. */
  readonly frames: number;
  /** Bytes consumed so far (headers, payloads and delimiters of delivered frames). */
  readonly bytes: number;
  /**
   * Bytes received of the frame not yet complete, its header included: what a peer can make us
   * hold without ever finishing a frame, so that a server can bound it across its connections.
   */
  readonly pendingBytes: number;
}

/** A decoding or encoding failure, naming the frame (1-based), its byte offset and the peer. */
export class FrameError extends RivuletError {
  constructor(
    code: RivuletErrorCode,
    message: string,
    /** 1-based number of the frame in its stream. */
    readonly frame: number,
    /** Offset in the stream of the frame's first byte (its header or its first character). */
    readonly byteOffset: number,
    readonly peer: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

interface CommonOptions {
  /** Largest payload accepted, in bytes (header and delimiter not counted). Default 1 MiB. */
  maxFrameBytes?: number;
}

export interface LengthPrefixedOptions extends CommonOptions {
  /** Size of the big-endian length header: 1, 2 or 4 (default 4, as Wallaroo). */
  headerBytes?: 1 | 2 | 4;
}

export type NewlineDelimitedOptions = CommonOptions;

interface FramingBase {
  readonly maxFrameBytes: number;
  /** A decoder delivering raw payloads. */
  decoder(onFrame: (frame: Buffer) => void, context?: DecoderContext): FrameDecoder;
  /** A decoder delivering payloads as strings, with fatal UTF-8 checking (ERR_INVALID_UTF8). */
  textDecoder(onFrame: (text: string) => void, context?: DecoderContext): FrameDecoder;
  /**
   * The wire bytes of one frame (strings are encoded as UTF-8). Throws ERR_FRAME_TOO_LARGE above
   * `maxFrameBytes`, and for newline framing ERR_INVALID_VALUE if the text holds a `\n` or ends
   * with `\r` (it would not come back as the same frame).
   */
  encode(payload: string | Uint8Array): Buffer;
}

export interface LengthPrefixed extends FramingBase {
  readonly kind: 'length-prefixed';
  readonly headerBytes: 1 | 2 | 4;
}

export interface NewlineDelimited extends FramingBase {
  readonly kind: 'newline-delimited';
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function describe(peer: string | undefined): string {
  return peer === undefined ? '' : ` from ${peer}`;
}

/** Turns a Buffer callback into a string callback that fails on invalid UTF-8. */
function textOf(
  kind: string,
  onFrame: (text: string) => void,
  context: DecoderContext | undefined,
  position: () => { frame: number; byteOffset: number },
): (frame: Buffer) => void {
  return (frame) => {
    let text: string;
    try {
      text = utf8.decode(frame);
    } catch (cause) {
      const { frame: n, byteOffset } = position();
      throw new FrameError(
        'ERR_INVALID_UTF8',
        `${kind} framing: frame ${n} at byte ${byteOffset}${describe(context?.peer)} is not valid UTF-8`,
        n,
        byteOffset,
        context?.peer,
        { cause },
      );
    }
    onFrame(text);
  };
}

function payloadBytes(where: string, payload: string | Uint8Array): Buffer {
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  if (payload instanceof Uint8Array) {
    return Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  }
  throw new RivuletError('ERR_INVALID_VALUE', `${where}: can only encode a string or a Uint8Array, got ${typeof payload}`);
}

function tooLargeToEncode(where: string, size: number, max: number): RivuletError {
  return new RivuletError('ERR_FRAME_TOO_LARGE', `${where}: cannot encode a ${size}-byte payload, above maxFrameBytes ${max}`);
}

/**
 * Wallaroo's framing: each frame is a big-endian unsigned length (`headerBytes` bytes, default 4)
 * followed by that many bytes of payload. A declared length above `maxFrameBytes` fails as soon
 * as the header is read, before any of the payload is buffered.
 *
 * ```ts
 * lengthPrefixed().encode('hi');                 // <Buffer 00 00 00 02 68 69>
 * lengthPrefixed({ headerBytes: 2 }).encode('hi'); // <Buffer 00 02 68 69>
 * ```
 */
export function lengthPrefixed(options: LengthPrefixedOptions = {}): LengthPrefixed {
  const where = 'lengthPrefixed';
  const headerBytes = options.headerBytes ?? 4;
  if (headerBytes !== 1 && headerBytes !== 2 && headerBytes !== 4) {
    throw invalidOption(where, `headerBytes must be 1, 2 or 4, got ${String(headerBytes)}`);
  }
  const headerLimit = 2 ** (8 * headerBytes) - 1;
  const maxFrameBytes = options.maxFrameBytes ?? Math.min(DEFAULT_MAX_FRAME_BYTES, headerLimit);
  requireInteger(where, 'maxFrameBytes', maxFrameBytes);
  if (maxFrameBytes > headerLimit) {
    throw invalidOption(where, `maxFrameBytes ${maxFrameBytes} does not fit a ${headerBytes}-byte header (at most ${headerLimit})`);
  }

  const decoder = (onFrame: (frame: Buffer) => void, context?: DecoderContext): FrameDecoder =>
    new LengthPrefixedDecoder(headerBytes, maxFrameBytes, onFrame, context?.peer);

  return {
    kind: 'length-prefixed',
    headerBytes,
    maxFrameBytes,
    decoder,
    textDecoder(onFrame, context) {
      const inner: LengthPrefixedDecoder = new LengthPrefixedDecoder(
        headerBytes,
        maxFrameBytes,
        textOf('length-prefixed', onFrame, context, () => inner.delivering()),
        context?.peer,
      );
      return inner;
    },
    encode(payload) {
      if (typeof payload === 'string') {
        // Writing the string straight after the header avoids a second copy of the payload.
        const size = Buffer.byteLength(payload, 'utf8');
        if (size > maxFrameBytes) throw tooLargeToEncode(where, size, maxFrameBytes);
        const out = Buffer.allocUnsafe(headerBytes + size);
        out.writeUIntBE(size, 0, headerBytes);
        out.write(payload, headerBytes, 'utf8');
        return out;
      }
      const bytes = payloadBytes(where, payload);
      if (bytes.length > maxFrameBytes) throw tooLargeToEncode(where, bytes.length, maxFrameBytes);
      const out = Buffer.allocUnsafe(headerBytes + bytes.length);
      out.writeUIntBE(bytes.length, 0, headerBytes);
      bytes.copy(out, headerBytes);
      return out;
    },
  };
}

/**
 * Text lines: each frame ends at `\n`, and a `\r` just before the `\n` is dropped (CRLF input).
 * A line longer than `maxFrameBytes` fails as soon as it has grown past it, so a peer that never
 * sends a newline cannot make the decoder buffer without bound.
 *
 * At `end()`, a final line without its `\n` is a complete frame (as for text files whose last
 * line lacks a newline), with a trailing `\r` dropped too; `end()` never reports truncation.
 *
 * ```ts
 * newlineDelimited().encode('hi'); // <Buffer 68 69 0a>
 * ```
 */
export function newlineDelimited(options: NewlineDelimitedOptions = {}): NewlineDelimited {
  const where = 'newlineDelimited';
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  requireInteger(where, 'maxFrameBytes', maxFrameBytes);

  const check = (bytes: Buffer): void => {
    if (bytes.length > maxFrameBytes) throw tooLargeToEncode(where, bytes.length, maxFrameBytes);
    if (bytes.includes(10) || (bytes.length > 0 && bytes[bytes.length - 1] === 13)) {
      throw new RivuletError('ERR_INVALID_VALUE', `${where}: a payload must not contain "\\n" or end with "\\r"`);
    }
  };
  return {
    kind: 'newline-delimited',
    maxFrameBytes,
    decoder: (onFrame, context) => new NewlineDecoder(maxFrameBytes, onFrame, context?.peer),
    textDecoder(onFrame, context) {
      const inner: NewlineDecoder = new NewlineDecoder(
        maxFrameBytes,
        textOf('newline-delimited', onFrame, context, () => inner.delivering()),
        context?.peer,
      );
      return inner;
    },
    encode(payload) {
      const bytes = payloadBytes(where, payload);
      check(bytes);
      const out = Buffer.allocUnsafe(bytes.length + 1);
      bytes.copy(out, 0);
      out[bytes.length] = 10;
      return out;
    },
  };
}

/**
 * What both decoders share: the bytes of an incomplete frame, kept as a list of chunks (copied
 * once, when the frame completes, rather than concatenated on every push), and the failed state.
 */
abstract class ChunkedDecoder implements FrameDecoder {
  frames = 0;
  bytes = 0;
  protected pending: Buffer[] = [];
  protected keptBytes = 0;
  private failure: FrameError | undefined;

  constructor(
    protected readonly kind: string,
    protected readonly maxFrameBytes: number,
    protected readonly onFrame: (frame: Buffer) => void,
    protected readonly peer: string | undefined,
  ) {}

  get pendingBytes(): number {
    return this.keptBytes;
  }

  /** Offset of the frame most recently delivered. */
  private frameOffset = 0;

  /** The frame being decoded (1-based) and its offset, for error messages. */
  current(): { frame: number; byteOffset: number } {
    return { frame: this.frames + 1, byteOffset: this.bytes };
  }

  /** The frame being delivered right now (inside `onFrame`). */
  delivering(): { frame: number; byteOffset: number } {
    return { frame: this.frames, byteOffset: this.frameOffset };
  }

  push(chunk: Buffer): void {
    if (this.failure) throw this.failure;
    try {
      this.decode(chunk);
    } catch (error) {
      if (error instanceof FrameError) this.failure = error;
      throw error;
    }
  }

  end(): void {
    if (this.failure) throw this.failure;
    try {
      this.finish();
    } catch (error) {
      if (error instanceof FrameError) this.failure = error;
      throw error;
    }
  }

  protected abstract decode(chunk: Buffer): void;
  protected abstract finish(): void;

  protected fail(code: RivuletErrorCode, reason: string): FrameError {
    const { frame, byteOffset } = this.current();
    return new FrameError(
      code,
      `${this.kind} framing: frame ${frame} at byte ${byteOffset}${describe(this.peer)} ${reason}`,
      frame,
      byteOffset,
      this.peer,
    );
  }

  /**
   * Counts a frame as delivered before calling back, so a throwing callback leaves the decoder
   * consistent; the bytes not yet decoded (`rest` from `restOffset`) are then kept for later.
   */
  protected deliver(frame: Buffer, consumed: number, rest: Buffer, restOffset: number): void {
    this.frameOffset = this.bytes;
    this.frames++;
    this.bytes += consumed;
    try {
      this.onFrame(frame);
    } catch (error) {
      this.keep(rest.subarray(restOffset));
      throw error;
    }
  }

  /** Moves the first `count` pending bytes into one new Buffer and drops them from `pending`. */
  protected takePending(count: number): Buffer {
    const out = Buffer.allocUnsafe(count);
    let filled = 0;
    while (filled < count) {
      const head = this.pending[0];
      const take = Math.min(head.length, count - filled);
      head.copy(out, filled, 0, take);
      filled += take;
      if (take === head.length) this.pending.shift();
      else this.pending[0] = head.subarray(take);
    }
    this.keptBytes -= count;
    return out;
  }

  protected keep(rest: Buffer): void {
    if (rest.length === 0) return;
    this.pending.push(rest);
    this.keptBytes += rest.length;
  }
}

class LengthPrefixedDecoder extends ChunkedDecoder {
  /** Payload length of the frame whose header has been read, or -1 while the header is incomplete. */
  private declared = -1;

  constructor(
    private readonly headerBytes: number,
    maxFrameBytes: number,
    onFrame: (frame: Buffer) => void,
    peer: string | undefined,
  ) {
    super('length-prefixed', maxFrameBytes, onFrame, peer);
  }

  override get pendingBytes(): number {
    // Once read, the header is no longer kept, but the peer did send it.
    return this.keptBytes + (this.declared >= 0 ? this.headerBytes : 0);
  }

  protected decode(chunk: Buffer): void {
    const h = this.headerBytes;
    if (this.keptBytes > 0 || this.declared >= 0) {
      // Finish the frame that spans chunks; only this path copies.
      this.keep(chunk);
      if (this.declared < 0) {
        if (this.keptBytes < h) return;
        this.declared = this.takePending(h).readUIntBE(0, h);
        this.checkDeclared(this.declared);
      }
      if (this.keptBytes < this.declared) return;
      const size = this.declared;
      const frame = this.takePending(size);
      this.declared = -1;
      // What is left lies within the last chunk pushed, so it is at most one view.
      const rest = this.pending.length > 0 ? this.pending[0] : EMPTY;
      this.pending = [];
      this.keptBytes = 0;
      this.deliver(frame, h + size, rest, 0);
      chunk = rest;
    }
    // Fast path: frames wholly inside this chunk are handed out as views, without copying.
    let offset = 0;
    const length = chunk.length;
    while (length - offset >= h) {
      const size = h === 4 ? chunk.readUInt32BE(offset) : h === 2 ? chunk.readUInt16BE(offset) : chunk[offset];
      if (size > this.maxFrameBytes) this.checkDeclared(size);
      const end = offset + h + size;
      if (end > length) break;
      const frame = chunk.subarray(offset + h, end);
      offset = end;
      this.deliver(frame, h + size, chunk, offset);
    }
    if (offset < length) {
      const rest = chunk.subarray(offset);
      if (rest.length >= h) {
        this.declared = rest.readUIntBE(0, h);
        this.keep(rest.subarray(h));
      } else {
        this.keep(rest);
      }
    }
  }

  private checkDeclared(size: number): void {
    if (size > this.maxFrameBytes) {
      throw this.fail('ERR_FRAME_TOO_LARGE', `declares ${size} bytes, above maxFrameBytes ${this.maxFrameBytes}`);
    }
  }

  protected finish(): void {
    if (this.declared >= 0) {
      throw this.fail('ERR_FRAME_TRUNCATED', `was cut short: the stream ended after ${this.keptBytes} of its ${this.declared} bytes`);
    }
    if (this.keptBytes > 0) {
      throw this.fail('ERR_FRAME_TRUNCATED', `was cut short: the stream ended after ${this.keptBytes} of its ${this.headerBytes} header bytes`);
    }
  }
}

class NewlineDecoder extends ChunkedDecoder {
  constructor(maxFrameBytes: number, onFrame: (frame: Buffer) => void, peer: string | undefined) {
    super('newline-delimited', maxFrameBytes, onFrame, peer);
  }

  protected decode(chunk: Buffer): void {
    let offset = 0;
    if (this.keptBytes > 0) {
      const newline = chunk.indexOf(10);
      if (newline < 0) {
        this.keep(chunk);
        this.checkGrowing();
        return;
      }
      this.keep(chunk.subarray(0, newline));
      const line = this.takePending(this.keptBytes);
      offset = newline + 1;
      this.emitLine(line, 0, line.length, line.length + 1, chunk, offset);
    }
    const length = chunk.length;
    while (offset < length) {
      const newline = chunk.indexOf(10, offset);
      if (newline < 0) break;
      const start = offset;
      offset = newline + 1;
      this.emitLine(chunk, start, newline, newline + 1 - start, chunk, offset);
    }
    if (offset < length) {
      this.keep(chunk.subarray(offset));
      this.checkGrowing();
    }
  }

  /** Emits `source[start, end)` minus a trailing `\r`; on a throwing callback keeps `rest[restOffset...]`. */
  private emitLine(source: Buffer, start: number, end: number, consumed: number, rest: Buffer, restOffset: number): void {
    if (end > start && source[end - 1] === 13) end--;
    if (end - start > this.maxFrameBytes) {
      throw this.fail('ERR_FRAME_TOO_LARGE', `is a ${end - start}-byte line, above maxFrameBytes ${this.maxFrameBytes}`);
    }
    this.deliver(source.subarray(start, end), consumed, rest, restOffset);
  }

  /** A line longer than the limit plus a possible `\r` can never become a valid frame. */
  private checkGrowing(): void {
    if (this.keptBytes > this.maxFrameBytes + 1) {
      throw this.fail('ERR_FRAME_TOO_LARGE', `is a line longer than maxFrameBytes ${this.maxFrameBytes} with no newline yet`);
    }
  }

  protected finish(): void {
    if (this.keptBytes === 0) return;
    const line = this.takePending(this.keptBytes);
    this.emitLine(line, 0, line.length, line.length, EMPTY, 0);
  }
}

const EMPTY = Buffer.alloc(0);

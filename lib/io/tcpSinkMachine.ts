/**
 * The life of one `tcpSink` subscription as a state machine: named states, one transition
 * function from (state, event) to (next state, effects), and no I/O. The shell in tcpSink.ts owns
 * the socket, the timers (all on the injected scheduler) and the gate, turns what they do into
 * events and performs the effects; so every decision about connecting, writing, resending and
 * closing can be tested here by feeding events, with no socket and no clock.
 *
 * ```text
 * state                   event            next                     effects
 * idle                    start            connecting               connect, connect timer
 * connecting              connect          ready | writing          announce, write the buffer's first batch
 * connecting              connect timer    connecting               destroy with the timeout
 * connecting              close            backingOff | failed      report, retry timer | give up
 * backingOff              retry timer      connecting               connect, connect timer
 * ready                   frame            writing                  write it
 * ready                   source done      ending                   end (FIN)
 * writing                 written          writing | ready | ending write the next batch | - | end
 * writing                 full             blocked                  (pause the gate)
 * blocked                 written          blocked                  -
 * blocked                 drain            writing | as on written  -
 * ready, writing, blocked close            backingOff | failed      put the batch in flight back, report, retry timer
 * ending                  finished         closing                  close timer
 * ending, closing         close            closed                   (report what may be lost,) complete
 * closing                 close timer      closing                  destroy
 * any but closed, failed  fail             failed                   release, error
 * any but closed, failed  unsubscribe      closed                   release
 * ```
 * A frame over `maxBufferedBytes` fails the sink (ERR_BUFFER_FULL); after every transition the
 * gate is paused or resumed as the bytes held cross the water marks. Anything else leaves the
 * state as it is: an event of a state already left (a late timer) changes nothing.
 *
 * - connecting: a socket is being opened; `connectTimeoutMs` runs.
 * - ready: connected, nothing in flight; the buffer is then empty (a frame is written at once).
 * - writing: one batch handed to `socket.write()`, not yet confirmed; frames arriving meanwhile
 *   wait in the buffer and go out together in the next batch.
 * - blocked: `write()` returned false; waiting for 'drain'.
 * - ending: the source completed and every batch was confirmed; our FIN is queued.
 * - closing: FIN sent after the last byte; waiting for the peer to close (`closeTimeoutMs`).
 * - backingOff: the connection failed or was lost; the retry timer runs.
 *
 * At most one batch is in flight: it is the unit of resending (a batch not confirmed when its
 * connection closes is put back in front of the buffer, whole) and of coalescing (while it is in
 * flight, small frames gather into the next one).
 *
 * Every report of a lost connection says what the kernel accepted on it (`accepted`: the
 * batches confirmed since it opened, which the listener may not have read, and which are not
 * resent), what was cut off in flight (resent) and what is buffered. Only a clean close by the
 * listener after our FIN, which followed the last confirmed batch, is reported as nothing: it
 * read up to our FIN (a listener that crashes with bytes unread resets the connection instead).
 */
import { RivuletError } from '../core/errors';
import { NO_EFFECTS } from './machineRunner';

/** Small frames are written in batches of about this size: one syscall, not one per frame. */
export const BATCH_BYTES = 65_536;

export interface TcpSinkConfig {
  /** Prefix of every message: `tcpSink host:port`. */
  readonly where: string;
  readonly maxBufferedBytes: number;
  readonly highWaterMarkBytes: number;
  readonly lowWaterMarkBytes: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxAttempts: number;
  readonly connectTimeoutMs: number;
  readonly closeTimeoutMs: number;
  /** Whether a gate was given: only changes the advice of ERR_BUFFER_FULL. */
  readonly hasGate: boolean;
}

/** Frames written together, and how many: the unit of writing and of resending. */
export interface Batch {
  readonly data: Buffer;
  readonly frames: number;
}

/** Bytes and frames, as delivery reports count them. */
export interface Tally {
  bytes: number;
  frames: number;
}

/** Frames waiting for a socket, oldest first: the one mutable part of the machine's state. */
export class FrameQueue {
  // A batch put back is one entry of several frames.
  private entries: Batch[] = [];
  private head = 0;
  /** Bytes of the frames waiting. */
  bytes = 0;
  /** How many frames are waiting. */
  frames = 0;

  get empty(): boolean {
    return this.head === this.entries.length;
  }

  push(frame: Buffer): void {
    this.entries.push({ data: frame, frames: 1 });
    this.bytes += frame.length;
    this.frames += 1;
  }

  /** Takes the oldest frames, at least one entry and otherwise up to `maxBytes`, as one buffer. */
  take(maxBytes: number): Batch {
    const { entries } = this;
    const start = this.head;
    let bytes = 0;
    let frames = 0;
    while (this.head < entries.length && (bytes === 0 || bytes + entries[this.head].data.length <= maxBytes)) {
      const entry = entries[this.head++];
      bytes += entry.data.length;
      frames += entry.frames;
    }
    const batch = this.head - start === 1 ? entries[start] : { data: Buffer.concat(entries.slice(start, this.head).map((e) => e.data), bytes), frames };
    this.bytes -= bytes;
    this.frames -= frames;
    if (this.head === entries.length) this.clear();
    else if (this.head > 1024 && this.head * 2 > entries.length) {
      this.entries = entries.slice(this.head);
      this.head = 0;
    }
    return batch;
  }

  /** Puts a batch that was never confirmed back in front, to be written again first. */
  putBack(batch: Batch): void {
    this.entries = [batch, ...this.entries.slice(this.head)];
    this.head = 0;
    this.bytes += batch.data.length;
    this.frames += batch.frames;
  }

  clear(): void {
    this.entries = [];
    this.head = 0;
    this.bytes = 0;
    this.frames = 0;
  }
}

/** `65,536 bytes (812 frames)`. */
export function describeTally({ bytes, frames }: Tally): string {
  return `${bytes.toLocaleString('en-US')} byte${bytes === 1 ? '' : 's'} (${frames.toLocaleString('en-US')} frame${frames === 1 ? '' : 's'})`;
}

export type TimerName = 'connectTimeout' | 'retry' | 'closeTimeout';

/** What every live state carries. */
interface Live {
  readonly queue: FrameQueue;
  /** The source completed: once the buffer is empty, close. */
  readonly sourceDone: boolean;
  /** The gate is paused by this sink (hysteresis between the two water marks). */
  readonly gateHeld: boolean;
  /**
   * What the kernel accepted on the current connection (batches whose write completed): not
   * known to be read, since the listener acknowledges nothing. Reset on each connection.
   */
  readonly accepted: Tally;
}

export type TcpSinkState =
  | ({ readonly name: 'idle' } & Live)
  | ({ readonly name: 'connecting'; readonly failures: number } & Live)
  | ({ readonly name: 'ready' } & Live)
  | ({ readonly name: 'writing'; readonly inFlight: Batch } & Live)
  | ({ readonly name: 'blocked'; readonly inFlight?: Batch } & Live)
  | ({ readonly name: 'ending' } & Live)
  | ({ readonly name: 'closing' } & Live)
  | ({ readonly name: 'backingOff'; readonly failures: number; readonly delayMs: number } & Live)
  | { readonly name: 'closed' }
  | { readonly name: 'failed'; readonly error: unknown };

export type TcpSinkStateName = TcpSinkState['name'];

export type TcpSinkEvent =
  /** Subscribed: open the first connection. */
  | { readonly type: 'start' }
  /** An encoded value from the source. */
  | { readonly type: 'frame'; readonly frame: Buffer }
  | { readonly type: 'sourceComplete' }
  /** The source errored, a value could not be encoded, or a callback threw. */
  | { readonly type: 'fail'; readonly error: unknown }
  | { readonly type: 'unsubscribe' }
  /** The socket connected. */
  | { readonly type: 'connect' }
  /** `write()` returned false for the batch in flight. */
  | { readonly type: 'full' }
  | { readonly type: 'drain' }
  /** The batch in flight was handed to the kernel (its write callback ran without error). */
  | { readonly type: 'written' }
  /** Our FIN went out after every byte (the `end()` callback ran without error). */
  | { readonly type: 'finished' }
  /** The socket closed; `error` says why when it was not a clean close by the peer. */
  | { readonly type: 'close'; readonly error?: Error }
  | { readonly type: 'timer'; readonly timer: TimerName };

export type TcpSinkEffect =
  | { readonly type: 'connect' }
  | { readonly type: 'write'; readonly batch: Buffer }
  | { readonly type: 'end' }
  | { readonly type: 'destroy'; readonly error?: Error }
  | { readonly type: 'setTimer'; readonly timer: TimerName; readonly delayMs: number }
  | { readonly type: 'clearTimer' }
  | { readonly type: 'pauseGate' }
  | { readonly type: 'resumeGate' }
  /** Tell `onConnect`. */
  | { readonly type: 'announce' }
  /** Tell `onConnectionError` (a retry follows, or the sink completes with a loss to report). */
  | { readonly type: 'report'; readonly error: RivuletError }
  | { readonly type: 'complete' }
  | { readonly type: 'error'; readonly error: unknown };

type LiveState = Exclude<TcpSinkState, { name: 'closed' | 'failed' }>;
type Step = readonly [TcpSinkState, readonly TcpSinkEffect[]];

export function initialTcpSinkState(): TcpSinkState {
  return { name: 'idle', queue: new FrameQueue(), sourceDone: false, gateHeld: false, accepted: { bytes: 0, frames: 0 } };
}

const hasSocket = (name: TcpSinkStateName): boolean => name !== 'idle' && name !== 'backingOff' && name !== 'closed' && name !== 'failed';
const hasTimer = (name: TcpSinkStateName): boolean => name === 'connecting' || name === 'backingOff' || name === 'closing';
const isConnected = (name: TcpSinkStateName): boolean => name === 'ready' || name === 'writing' || name === 'blocked';

/** Builds the transition function for one sink's settings. */
export function tcpSinkTransition(config: TcpSinkConfig): (state: TcpSinkState, event: TcpSinkEvent) => Step {
  const { where, maxBufferedBytes, highWaterMarkBytes, lowWaterMarkBytes, maxAttempts } = config;

  /** Pauses or resumes the gate as the bytes held (buffered and in flight) cross the marks. */
  const withGate = (state: LiveState, effects: TcpSinkEffect[]): Step => {
    const held = state.queue.bytes + ('inFlight' in state && state.inFlight ? state.inFlight.data.length : 0);
    const blocked = state.name === 'blocked';
    if (!state.gateHeld && (blocked || held >= highWaterMarkBytes)) return [{ ...state, gateHeld: true }, [...effects, { type: 'pauseGate' }]];
    if (state.gateHeld && !blocked && held <= lowWaterMarkBytes) return [{ ...state, gateHeld: false }, [...effects, { type: 'resumeGate' }]];
    return [state, effects.length === 0 ? NO_EFFECTS : effects];
  };

  /** The socket can take a batch: write the next one, or close if there is nothing left. */
  const flush = (state: LiveState, effects: TcpSinkEffect[]): Step => {
    const { queue, sourceDone, gateHeld, accepted } = state;
    if (!queue.empty) {
      const batch = queue.take(BATCH_BYTES);
      return withGate({ name: 'writing', queue, sourceDone, gateHeld, accepted, inFlight: batch }, [...effects, { type: 'write', batch: batch.data }]);
    }
    if (sourceDone) return withGate({ name: 'ending', queue, sourceDone, gateHeld, accepted }, [...effects, { type: 'end' }]);
    return withGate({ name: 'ready', queue, sourceDone, gateHeld, accepted }, effects);
  };

  /** The kernel took the batch in flight. */
  const confirm = (state: LiveState): void => {
    if (!('inFlight' in state) || !state.inFlight) return;
    state.accepted.bytes += state.inFlight.data.length;
    state.accepted.frames += state.inFlight.frames;
  };

  /** What a lost connection may have taken with it, for the report; empty if nothing. */
  const mayBeLost = (state: LiveState): string[] =>
    state.accepted.bytes > 0 ? [`${describeTally(state.accepted)} written to the kernel may not have reached the listener`] : [];

  /**
   * Ends the subscription: release what is held, then tell the subscriber (unless it left).
   * `socketClosed`: the socket has closed already, so there is nothing to destroy.
   */
  const stop = (state: LiveState, notify?: TcpSinkEffect, socketClosed = false): Step => {
    const effects: TcpSinkEffect[] = [];
    if (hasTimer(state.name)) effects.push({ type: 'clearTimer' });
    if (hasSocket(state.name) && !socketClosed) effects.push({ type: 'destroy' });
    if (state.gateHeld) effects.push({ type: 'resumeGate' });
    state.queue.clear();
    if (notify) effects.push(notify);
    return [notify?.type === 'error' ? { name: 'failed', error: notify.error } : { name: 'closed' }, effects];
  };
  const fail = (state: LiveState, error: unknown): Step => stop(state, { type: 'error', error });

  /**
   * The connection failed or was lost: put back what was not confirmed, then retry or give up.
   * The report says what the kernel had accepted on it (it may be lost, and is not resent) and
   * what was cut off in flight (resent, so the listener may get part of it twice).
   */
  const lost = (state: LiveState, error: Error | undefined): Step => {
    const { queue, sourceDone, gateHeld, accepted } = state;
    const cutOff = 'inFlight' in state && state.inFlight ? state.inFlight : undefined;
    if (cutOff) queue.putBack(cutOff);
    const failures = (state.name === 'connecting' ? state.failures : 0) + 1;
    const reason = error ? ((error as NodeJS.ErrnoException).code ?? error.message) : 'closed by peer';
    const what = state.name === 'connecting' ? 'cannot connect' : 'connection lost';
    const told = [`${where}: ${what} (${reason})`, ...mayBeLost(state)];
    if (failures >= maxAttempts) {
      if (!queue.empty) told.push(`discarding ${describeTally(queue)} not confirmed written`);
      const message = [...told, `gave up after ${failures} consecutive failed attempts (maxAttempts)`].join('; ');
      return stop(state, { type: 'error', error: new RivuletError('ERR_CONNECTION', message, { cause: error }) }, true);
    }
    if (cutOff) told.push(`${describeTally({ bytes: cutOff.data.length, frames: cutOff.frames })} cut off in flight will be written again first`);
    const delayMs = Math.min(config.maxDelayMs, config.initialDelayMs * 2 ** (failures - 1));
    const message = [...told, `retrying in ${delayMs} ms with ${queue.bytes.toLocaleString('en-US')} byte${queue.bytes === 1 ? '' : 's'} buffered`].join('; ');
    const effects: TcpSinkEffect[] = state.name === 'connecting' ? [{ type: 'clearTimer' }] : [];
    effects.push({ type: 'report', error: new RivuletError('ERR_CONNECTION', message, { cause: error }) }, { type: 'setTimer', timer: 'retry', delayMs });
    accepted.bytes = 0;
    accepted.frames = 0;
    return withGate({ name: 'backingOff', queue, sourceDone, gateHeld, accepted, failures, delayMs }, effects);
  };

  /**
   * The connection closed after the last batch was confirmed: nothing is left to resend, so the
   * sink completes. Unless the listener closed in answer to our FIN, it may not have read all
   * the kernel had accepted: that is reported first.
   */
  const closedAtEnd = (state: LiveState, error: Error | undefined): Step => {
    const afterFin = state.name === 'closing' && error === undefined;
    const parts = afterFin ? [] : mayBeLost(state);
    if (parts.length === 0) return stop(state, { type: 'complete' }, true);
    const reason = error ? ((error as NodeJS.ErrnoException).code ?? error.message) : 'closed by peer before our end of stream';
    const report: TcpSinkEffect = { type: 'report', error: new RivuletError('ERR_CONNECTION', [`${where}: connection lost after the last frame (${reason})`, ...parts].join('; '), { cause: error }) };
    const [next, effects] = stop(state, { type: 'complete' }, true);
    return [next, [report, ...effects]];
  };

  const frame = (state: LiveState, bytes: Buffer): Step => {
    const { queue } = state;
    if (queue.bytes + bytes.length > maxBufferedBytes) {
      const why = isConnected(state.name) ? 'the peer is not reading fast enough' : 'the peer is unreachable';
      const advice = config.hasGate ? 'the source did not pause for the gate' : 'give the sink and its source a shared FlowGate';
      return fail(state, new RivuletError('ERR_BUFFER_FULL', `${where}: buffer full (maxBufferedBytes ${maxBufferedBytes}): ${why} and ${advice}`));
    }
    queue.push(bytes);
    return state.name === 'ready' ? flush(state, []) : withGate(state, []);
  };

  const unchanged = (state: TcpSinkState): Step => [state, NO_EFFECTS];

  return (state, event) => {
    if (state.name === 'closed' || state.name === 'failed') return unchanged(state);
    switch (event.type) {
      case 'fail':
        return fail(state, event.error);
      case 'unsubscribe':
        return stop(state);
      case 'frame':
        return state.sourceDone ? unchanged(state) : frame(state, event.frame);
      case 'sourceComplete':
        if (state.sourceDone) return unchanged(state);
        return state.name === 'ready' ? flush({ ...state, sourceDone: true }, []) : [{ ...state, sourceDone: true }, NO_EFFECTS];
      default:
    }
    const { queue, sourceDone, gateHeld, accepted } = state;
    switch (state.name) {
      case 'idle':
        if (event.type !== 'start') return unchanged(state);
        return [{ name: 'connecting', queue, sourceDone, gateHeld, accepted, failures: 0 }, [{ type: 'connect' }, { type: 'setTimer', timer: 'connectTimeout', delayMs: config.connectTimeoutMs }]];
      case 'connecting':
        if (event.type === 'connect') return flush(state, [{ type: 'clearTimer' }, { type: 'announce' }]);
        if (event.type === 'close') return lost(state, event.error);
        if (event.type === 'timer' && event.timer === 'connectTimeout') {
          return [state, [{ type: 'destroy', error: new Error(`not connected after ${config.connectTimeoutMs} ms (connectTimeoutMs)`) }]];
        }
        return unchanged(state);
      case 'backingOff':
        if (event.type !== 'timer' || event.timer !== 'retry') return unchanged(state);
        return [{ name: 'connecting', queue, sourceDone, gateHeld, accepted, failures: state.failures }, [{ type: 'connect' }, { type: 'setTimer', timer: 'connectTimeout', delayMs: config.connectTimeoutMs }]];
      case 'ready':
        return event.type === 'close' ? lost(state, event.error) : unchanged(state);
      case 'writing':
        if (event.type === 'written') {
          confirm(state);
          return flush(state, []);
        }
        if (event.type === 'full') return withGate({ ...state, name: 'blocked' }, []);
        return event.type === 'close' ? lost(state, event.error) : unchanged(state);
      case 'blocked':
        if (event.type === 'written') {
          confirm(state);
          return [{ ...state, inFlight: undefined }, NO_EFFECTS];
        }
        if (event.type === 'drain') {
          return state.inFlight ? withGate({ name: 'writing', queue, sourceDone, gateHeld, accepted, inFlight: state.inFlight }, []) : flush(state, []);
        }
        return event.type === 'close' ? lost(state, event.error) : unchanged(state);
      case 'ending':
        if (event.type === 'finished') return [{ name: 'closing', queue, sourceDone, gateHeld, accepted }, [{ type: 'setTimer', timer: 'closeTimeout', delayMs: config.closeTimeoutMs }]];
        // Every batch was confirmed before the FIN was queued: a connection that dies now has
        // nothing left to resend, and reconnecting only to close again would serve no one.
        return event.type === 'close' ? closedAtEnd(state, event.error) : unchanged(state);
      case 'closing':
        if (event.type === 'close') return closedAtEnd(state, event.error);
        if (event.type === 'timer' && event.timer === 'closeTimeout') return [state, [{ type: 'destroy' }]];
        return unchanged(state);
    }
  };
}

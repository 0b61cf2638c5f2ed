import { RivuletError } from 'rivulet';
import { runMachine } from '../../../lib/io/machineRunner';
import {
  BATCH_BYTES, TcpSinkConfig, TcpSinkEffect, TcpSinkEvent, TcpSinkStateName, initialTcpSinkState, tcpSinkTransition,
} from '../../../lib/io/tcpSinkMachine';
import { driveMachine } from './tcpTestKit';

const where = 'tcpSink 127.0.0.1:7002';
const config: TcpSinkConfig = {
  where, maxBufferedBytes: 1000, highWaterMarkBytes: 600, lowWaterMarkBytes: 200, initialDelayMs: 100, maxDelayMs: 400,
  maxAttempts: Infinity, connectTimeoutMs: 1000, closeTimeoutMs: 2000, hasGate: true,
};

const start: TcpSinkEvent = { type: 'start' };
const connect: TcpSinkEvent = { type: 'connect' };
const written: TcpSinkEvent = { type: 'written' };
const full: TcpSinkEvent = { type: 'full' };
const drain: TcpSinkEvent = { type: 'drain' };
const finished: TcpSinkEvent = { type: 'finished' };
const sourceComplete: TcpSinkEvent = { type: 'sourceComplete' };
const unsubscribe: TcpSinkEvent = { type: 'unsubscribe' };
const timer = (name: 'connectTimeout' | 'retry' | 'closeTimeout'): TcpSinkEvent => ({ type: 'timer', timer: name });
const frame = (text: string): TcpSinkEvent => ({ type: 'frame', frame: Buffer.from(text) });
const bytes = (count: number): TcpSinkEvent => ({ type: 'frame', frame: Buffer.alloc(count, 120) });
const errno = (code: string) => Object.assign(new Error(`${code} by the test`), { code });
const close = (error?: Error): TcpSinkEvent => ({ type: 'close', error });
const boom = new RivuletError('ERR_INVALID_VALUE', 'upstream failed');

/** Effects written as short strings, so that a test reads like the transition table. */
function show(effect: TcpSinkEffect): string {
  switch (effect.type) {
    case 'write':
      return `write ${effect.batch.length > 20 ? `${effect.batch.length} bytes` : effect.batch.toString()}`;
    case 'destroy':
      return effect.error ? `destroy: ${effect.error.message}` : 'destroy';
    case 'setTimer':
      return `setTimer ${effect.timer} ${effect.delayMs}`;
    case 'report':
      return `report ${effect.error.code}: ${effect.error.message}`;
    case 'error':
      return `error ${(effect.error as RivuletError).code}: ${(effect.error as Error).message}`;
    default:
      return effect.type;
  }
}

/** A machine driven by hand, from idle along `path`. */
function sink(overrides: Partial<TcpSinkConfig> = {}, ...path: TcpSinkEvent[]) {
  const machine = driveMachine(tcpSinkTransition({ ...config, ...overrides }), initialTcpSinkState(), show, path);
  return {
    send: machine.send,
    get state() {
      return machine.state;
    },
    get name(): TcpSinkStateName {
      return machine.state.name;
    },
    get buffered(): number {
      const { state } = machine;
      return 'queue' in state ? state.queue.bytes : 0;
    },
  };
}

/** How each state is reached from idle, by events only (so no state is made up by hand). */
const paths: Record<TcpSinkStateName, TcpSinkEvent[]> = {
  idle: [],
  connecting: [start],
  backingOff: [start, close(errno('ECONNREFUSED'))],
  ready: [start, connect],
  writing: [start, connect, frame('a')],
  blocked: [start, connect, frame('a'), full],
  ending: [start, connect, sourceComplete],
  closing: [start, connect, sourceComplete, finished],
  closed: [start, unsubscribe],
  failed: [start, { type: 'fail', error: boom }],
};
const at = (name: TcpSinkStateName, overrides: Partial<TcpSinkConfig> = {}) => {
  const machine = sink(overrides, ...paths[name]);
  expect(machine.name).toBe(name);
  return machine;
};

describe('tcpSink state machine: the transition table', () => {
  it('starts idle and opens a connection, with its connect timer, on start', () => {
    const machine = sink();
    expect(machine.name).toBe('idle');
    expect(machine.send(start)).toEqual(['connect', 'setTimer connectTimeout 1000']);
    expect(machine.name).toBe('connecting');
  });

  it('connecting: on connect it announces the peer and writes what was buffered meanwhile, as one batch', () => {
    const empty = at('connecting');
    expect(empty.send(connect)).toEqual(['clearTimer', 'announce']);
    expect(empty.name).toBe('ready');
    const buffered = at('connecting');
    expect(buffered.send(frame('a'), frame('b'))).toEqual([]);
    expect(buffered.send(connect)).toEqual(['clearTimer', 'announce', 'write ab']);
    expect(buffered.name).toBe('writing');
  });

  it('connecting: the connect timer destroys the socket with the reason its close then reports', () => {
    const machine = at('connecting');
    expect(machine.send(timer('connectTimeout'))).toEqual(['destroy: not connected after 1000 ms (connectTimeoutMs)']);
    expect(machine.name).toBe('connecting');
    expect(machine.send(close(new Error('not connected after 1000 ms (connectTimeoutMs)')))).toEqual([
      'clearTimer',
      `report ERR_CONNECTION: ${where}: cannot connect (not connected after 1000 ms (connectTimeoutMs)); retrying in 100 ms with 0 bytes buffered`,
      'setTimer retry 100',
    ]);
    expect(machine.name).toBe('backingOff');
  });

  it('backingOff: the retry timer opens the next connection; delays double up to maxDelayMs and reset once connected', () => {
    const machine = at('connecting');
    const delays: number[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      machine.send(close(errno('ECONNREFUSED')));
      expect(machine.name).toBe('backingOff');
      if (machine.state.name === 'backingOff') delays.push(machine.state.delayMs);
      expect(machine.send(timer('retry'))).toEqual(['connect', 'setTimer connectTimeout 1000']);
      expect(machine.name).toBe('connecting');
    }
    expect(delays).toEqual([100, 200, 400, 400, 400]);
    machine.send(connect);
    expect(machine.send(close())).toEqual([`report ERR_CONNECTION: ${where}: connection lost (closed by peer); retrying in 100 ms with 0 bytes buffered`, 'setTimer retry 100']);
  });

  it('gives up with ERR_CONNECTION after maxAttempts consecutive failures, naming the last reason', () => {
    const machine = at('connecting', { maxAttempts: 3 });
    machine.send(close(errno('ECONNREFUSED')), timer('retry'), close(errno('ECONNREFUSED')), timer('retry'));
    expect(machine.send(close(errno('ECONNREFUSED')))).toEqual([
      'clearTimer',
      `error ERR_CONNECTION: ${where}: cannot connect (ECONNREFUSED); gave up after 3 consecutive failed attempts (maxAttempts)`,
    ]);
    expect(machine.name).toBe('failed');
    const once = at('writing', { maxAttempts: 1 });
    expect(once.send(close(errno('ECONNRESET')))).toEqual([
      `error ERR_CONNECTION: ${where}: connection lost (ECONNRESET); discarding 1 byte (1 frame) not confirmed written; gave up after 1 consecutive failed attempts (maxAttempts)`,
    ]);
  });

  it('ready: a frame is written at once; completion of the source ends the connection', () => {
    const machine = at('ready');
    expect(machine.send(frame('a'))).toEqual(['write a']);
    expect(machine.name).toBe('writing');
    const done = at('ready');
    expect(done.send(sourceComplete)).toEqual(['end']);
    expect(done.name).toBe('ending');
  });

  it('writing: frames arriving meanwhile go out together once the batch in flight is confirmed', () => {
    const machine = at('writing');
    expect(machine.send(frame('b'), frame('c'))).toEqual([]);
    expect(machine.buffered).toBe(2);
    expect(machine.send(written)).toEqual(['write bc']);
    expect(machine.send(written)).toEqual([]);
    expect(machine.name).toBe('ready');
  });

  it(`writing: a batch holds about ${BATCH_BYTES} bytes; a larger frame goes alone`, () => {
    const machine = at('writing', { maxBufferedBytes: 1 << 20, highWaterMarkBytes: 1 << 20 });
    machine.send(bytes(40_000), bytes(20_000), bytes(10_000), bytes(100_000));
    expect(machine.send(written)).toEqual(['write 60000 bytes']);
    expect(machine.send(written)).toEqual(['write 10000 bytes']);
    expect(machine.send(written)).toEqual(['write 100000 bytes']);
  });

  it('writing: completion of the source waits for the buffer and the batch in flight, then ends', () => {
    const machine = at('writing');
    machine.send(frame('b'));
    expect(machine.send(sourceComplete)).toEqual([]);
    expect(machine.name).toBe('writing');
    expect(machine.send(written)).toEqual(['write b']);
    expect(machine.send(written)).toEqual(['end']);
    expect(machine.name).toBe('ending');
  });

  it('writing -> blocked when write() returns false; drain and confirmation, in either order, let the next batch go', () => {
    const machine = at('writing');
    expect(machine.send(full)).toEqual(['pauseGate']);
    expect(machine.name).toBe('blocked');
    machine.send(frame('b'));
    expect(machine.send(drain)).toEqual(['resumeGate']);
    expect(machine.name).toBe('writing');
    expect(machine.send(written)).toEqual(['write b']);

    const confirmedFirst = at('blocked');
    confirmedFirst.send(frame('b'));
    expect(confirmedFirst.send(written)).toEqual([]);
    expect(confirmedFirst.name).toBe('blocked');
    expect(confirmedFirst.send(drain)).toEqual(['write b', 'resumeGate']);
  });

  it('ending -> closing once our FIN is out; closing completes when the peer closes', () => {
    const machine = at('ending');
    expect(machine.send(finished)).toEqual(['setTimer closeTimeout 2000']);
    expect(machine.name).toBe('closing');
    expect(machine.send(close())).toEqual(['clearTimer', 'complete']);
    expect(machine.name).toBe('closed');
  });

  it('closing: a peer that does not close is cut off after closeTimeoutMs, then the sink completes', () => {
    const machine = at('closing');
    expect(machine.send(timer('closeTimeout'))).toEqual(['destroy']);
    expect(machine.name).toBe('closing');
    expect(machine.send(close())).toEqual(['clearTimer', 'complete']);
  });

  it('source completion before the connection: connects only to end it', () => {
    const machine = at('connecting');
    expect(machine.send(sourceComplete)).toEqual([]);
    expect(machine.send(connect)).toEqual(['clearTimer', 'announce', 'end']);
    expect(machine.name).toBe('ending');
  });

  // Connection loss in each state: what is resent, what is reported, what comes next.
  it.each<[TcpSinkStateName, TcpSinkStateName, string[]]>([
    ['idle', 'idle', []],
    ['connecting', 'backingOff', ['clearTimer', `report ERR_CONNECTION: ${where}: cannot connect (ECONNRESET); retrying in 100 ms with 0 bytes buffered`, 'setTimer retry 100']],
    ['backingOff', 'backingOff', []],
    ['ready', 'backingOff', [`report ERR_CONNECTION: ${where}: connection lost (ECONNRESET); retrying in 100 ms with 0 bytes buffered`, 'setTimer retry 100']],
    // The batch in flight ('a') was not confirmed: it is back in the buffer.
    ['writing', 'backingOff', [`report ERR_CONNECTION: ${where}: connection lost (ECONNRESET); 1 byte (1 frame) cut off in flight will be written again first; retrying in 100 ms with 1 byte buffered`, 'setTimer retry 100']],
    // Blocked held the gate for the full socket; with the socket gone only the bytes count.
    ['blocked', 'backingOff', [`report ERR_CONNECTION: ${where}: connection lost (ECONNRESET); 1 byte (1 frame) cut off in flight will be written again first; retrying in 100 ms with 1 byte buffered`, 'setTimer retry 100', 'resumeGate']],
    // Every batch was confirmed before the FIN: nothing to resend.
    ['ending', 'closed', ['complete']],
    ['closing', 'closed', ['clearTimer', 'complete']],
    ['closed', 'closed', []],
    ['failed', 'failed', []],
  ])('connection loss in %s -> %s', (from, to, effects) => {
    const machine = at(from);
    expect(machine.send(close(errno('ECONNRESET')))).toEqual(effects);
    expect(machine.name).toBe(to);
  });

  it.each<[TcpSinkStateName, string[]]>([
    ['idle', []],
    ['connecting', ['clearTimer', 'destroy']],
    ['backingOff', ['clearTimer']],
    ['ready', ['destroy']],
    ['writing', ['destroy']],
    ['blocked', ['destroy', 'resumeGate']],
    ['ending', ['destroy']],
    ['closing', ['clearTimer', 'destroy']],
  ])('unsubscribe in %s releases what that state holds, quietly; a failure does the same, then errors', (from, released) => {
    const quiet = at(from);
    expect(quiet.send(unsubscribe)).toEqual(released);
    expect(quiet.name).toBe('closed');
    const failing = at(from);
    expect(failing.send({ type: 'fail', error: boom })).toEqual([...released, 'error ERR_INVALID_VALUE: upstream failed']);
    expect(failing.state).toEqual({ name: 'failed', error: boom });
  });

  it.each<TcpSinkStateName>(['closed', 'failed'])('%s is final: no event changes it or has an effect', (name) => {
    const machine = at(name);
    const before = machine.state;
    const events = [start, connect, frame('a'), written, full, drain, finished, sourceComplete, unsubscribe, close(), timer('retry'), timer('connectTimeout'), timer('closeTimeout'), { type: 'fail', error: boom } as TcpSinkEvent];
    expect(machine.send(...events)).toEqual([]);
    expect(machine.state).toBe(before);
  });

  it.each<[TcpSinkStateName, TcpSinkEvent[]]>([
    ['idle', [connect, written, full, drain, finished, close(), timer('retry'), timer('connectTimeout'), timer('closeTimeout')]],
    ['connecting', [start, written, full, drain, finished, timer('retry'), timer('closeTimeout')]],
    ['backingOff', [start, connect, written, full, drain, finished, close(), timer('connectTimeout'), timer('closeTimeout')]],
    ['ready', [start, connect, written, full, drain, finished, timer('retry'), timer('connectTimeout'), timer('closeTimeout')]],
    ['writing', [start, connect, drain, finished, timer('retry'), timer('connectTimeout'), timer('closeTimeout')]],
    ['blocked', [start, connect, full, finished, timer('retry'), timer('connectTimeout'), timer('closeTimeout')]],
    ['ending', [start, connect, frame('late'), written, full, drain, sourceComplete, timer('retry'), timer('connectTimeout'), timer('closeTimeout')]],
    ['closing', [start, connect, frame('late'), written, full, drain, finished, sourceComplete, timer('retry'), timer('connectTimeout')]],
  ])('%s ignores events that do not concern it (late timers, a second start, ...)', (name, events) => {
    const machine = at(name);
    for (const event of events) {
      expect(machine.send(event)).toEqual([]);
      expect(machine.name).toBe(name);
    }
  });
});

describe('tcpSink state machine: what is resent after a reconnect', () => {
  it('a batch cut off in flight is written again first, whole, before what came after it', () => {
    const machine = at('writing');
    machine.send(frame('b'));
    machine.send(close(errno('ECONNRESET')), frame('c'), timer('retry'));
    expect(machine.send(connect)).toEqual(['clearTimer', 'announce', 'write abc']);
  });

  it('a batch cut off while the socket was full is written again too', () => {
    const machine = at('blocked');
    machine.send(close(errno('EPIPE')), timer('retry'));
    expect(machine.send(connect)).toEqual(['clearTimer', 'announce', 'write a']);
  });

  it('a confirmed batch is never written again: if the peer crashed before reading it, it is lost', () => {
    const machine = at('writing');
    machine.send(written, close(errno('ECONNRESET')), timer('retry'));
    expect(machine.send(connect)).toEqual(['clearTimer', 'announce']);
    const blocked = at('blocked');
    blocked.send(written, close(errno('ECONNRESET')), timer('retry'));
    expect(blocked.send(connect)).toEqual(['clearTimer', 'announce']);
  });

  it('frames buffered while the peer is away survive every failed attempt, in order', () => {
    const machine = at('connecting');
    machine.send(frame('1'), close(errno('ECONNREFUSED')), frame('2'), timer('retry'), close(errno('ECONNREFUSED')), frame('3'), timer('retry'));
    expect(machine.send(connect)).toEqual(['clearTimer', 'announce', 'write 123']);
  });
});

describe('tcpSink state machine: what a lost connection reports', () => {
  const report = (effects: string[]) => effects.find((e) => e.startsWith('report'))?.replace(`report ERR_CONNECTION: ${where}: `, '');

  it('what the kernel accepted on the connection, batch by batch and frame by frame, and the batch cut off in flight', () => {
    const machine = at('ready');
    // 'a' goes alone; 'bb' and 'ccc' gather behind it into one batch of two frames.
    machine.send(frame('a'), frame('bb'), frame('ccc'), written, written, frame('dddd'));
    expect(report(machine.send(close(errno('ECONNRESET'))))).toBe(
      'connection lost (ECONNRESET); 6 bytes (3 frames) written to the kernel may not have reached the listener; 4 bytes (1 frame) cut off in flight will be written again first; retrying in 100 ms with 4 bytes buffered',
    );
  });

  it('counts afresh on each connection: what the last one accepted, not what earlier ones did', () => {
    const machine = at('writing'); // 'a' in flight
    machine.send(frame('bb'), close(errno('ECONNRESET')), timer('retry'), connect); // 'abb' resent as one batch
    machine.send(written, frame('ccc'), written);
    // The batch put back keeps its count of frames.
    expect(report(machine.send(close()))).toBe('connection lost (closed by peer); 6 bytes (3 frames) written to the kernel may not have reached the listener; retrying in 100 ms with 0 bytes buffered');
    machine.send(timer('retry'), connect, frame('e'), written);
    expect(report(machine.send(close(errno('EPIPE'))))).toBe('connection lost (EPIPE); 1 byte (1 frame) written to the kernel may not have reached the listener; retrying in 100 ms with 0 bytes buffered');
  });

  it('a connection that never took anything reports nothing written', () => {
    expect(report(at('ready').send(close(errno('ECONNRESET'))))).toBe('connection lost (ECONNRESET); retrying in 100 ms with 0 bytes buffered');
  });

  it('after the last frame: a reset, or a close before our FIN went out, is reported before the completion; a close answering our FIN is not', () => {
    const reset = sink({}, start, connect, frame('ab'), written, sourceComplete, finished);
    expect(reset.name).toBe('closing');
    expect(reset.send(close(errno('ECONNRESET')))).toEqual([
      `report ERR_CONNECTION: ${where}: connection lost after the last frame (ECONNRESET); 2 bytes (1 frame) written to the kernel may not have reached the listener`,
      'clearTimer',
      'complete',
    ]);
    const early = sink({}, start, connect, frame('ab'), written, sourceComplete);
    expect(early.name).toBe('ending');
    expect(early.send(close())).toEqual([
      `report ERR_CONNECTION: ${where}: connection lost after the last frame (closed by peer before our end of stream); 2 bytes (1 frame) written to the kernel may not have reached the listener`,
      'complete',
    ]);
    const clean = sink({}, start, connect, frame('ab'), written, sourceComplete, finished);
    expect(clean.send(close())).toEqual(['clearTimer', 'complete']);
  });

  it('giving up: what was accepted, and what is discarded unsent', () => {
    const machine = at('ready', { maxAttempts: 1 });
    machine.send(frame('a'), written, frame('bb'), frame('ccc'));
    expect(machine.send(close(errno('ECONNRESET')))).toEqual([
      `error ERR_CONNECTION: ${where}: connection lost (ECONNRESET); 1 byte (1 frame) written to the kernel may not have reached the listener; discarding 5 bytes (2 frames) not confirmed written; gave up after 1 consecutive failed attempts (maxAttempts)`,
    ]);
  });
});

describe('tcpSink state machine: the bounded buffer and the gate', () => {
  it('pauses the gate when the bytes held reach the high-water mark, counting the batch in flight, and resumes at the low one', () => {
    const machine = at('connecting');
    expect(machine.send(bytes(300))).toEqual([]);
    expect(machine.send(bytes(300))).toEqual(['pauseGate']);
    expect(machine.send(connect)).toEqual(['clearTimer', 'announce', 'write 600 bytes']);
    expect(machine.send(bytes(150))).toEqual([]);
    // 150 bytes still held: at or below the low-water mark (200), the gate opens.
    expect(machine.send(written)).toEqual(['write 150 bytes', 'resumeGate']);
  });

  it('errors with ERR_BUFFER_FULL instead of dropping, saying whether the peer is away or slow', () => {
    const away = at('connecting');
    away.send(bytes(600));
    expect(away.send(bytes(401))).toEqual([
      'clearTimer', 'destroy', 'resumeGate',
      `error ERR_BUFFER_FULL: ${where}: buffer full (maxBufferedBytes 1000): the peer is unreachable and the source did not pause for the gate`,
    ]);
    const slow = at('writing', { hasGate: false });
    slow.send(bytes(1000));
    expect(slow.send(bytes(1))).toEqual([
      'destroy', 'resumeGate',
      `error ERR_BUFFER_FULL: ${where}: buffer full (maxBufferedBytes 1000): the peer is not reading fast enough and give the sink and its source a shared FlowGate`,
    ]);
  });

  it('the batch in flight does not count against maxBufferedBytes (it is not in the buffer)', () => {
    const machine = at('ready');
    machine.send(bytes(1000));
    expect(machine.name).toBe('writing');
    machine.send(bytes(1000));
    expect(machine.name).toBe('writing');
    expect(machine.buffered).toBe(1000);
  });
});

describe('runMachine: the shell around a transition function', () => {
  type Event = { type: string };
  it('runs an event raised by an effect after the effects of the current transition', () => {
    const log: string[] = [];
    const runner = runMachine<number, Event, string>(
      0,
      (n, event) => [n + 1, event.type === 'first' ? ['raise', 'after'] : []],
      (effect) => {
        log.push(`${effect} in state ${runner.state}`);
        if (effect === 'raise') runner.dispatch({ type: 'second' });
      },
      () => ({ type: 'failed' }),
    );
    runner.dispatch({ type: 'first' });
    expect(log).toEqual(['raise in state 1', 'after in state 1']);
    expect(runner.state).toBe(2);
  });

  it('an effect that throws cancels the rest of its transition and becomes an event', () => {
    const performed: string[] = [];
    const events: string[] = [];
    const runner = runMachine<string, { type: string; error?: unknown }, string>(
      'start',
      (_state, event) => {
        events.push(event.type);
        return [event.type, event.type === 'go' ? ['announce', 'write'] : []];
      },
      (effect) => {
        if (effect === 'announce') throw new Error('callback failed');
        performed.push(effect);
      },
      (error) => ({ type: 'fail', error }),
    );
    runner.dispatch({ type: 'go' });
    expect(performed).toEqual([]);
    expect(events).toEqual(['go', 'fail']);
    expect(runner.state).toBe('fail');
  });
});

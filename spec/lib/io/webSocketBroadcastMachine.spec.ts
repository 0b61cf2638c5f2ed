import { RivuletError } from 'rivulet';
import {
  BroadcastConfig, BroadcastEffect, BroadcastEvent, BroadcastPhase, ClientPhase, backlogOf, broadcastTransition, initialBroadcastState,
} from '../../../lib/io/webSocketBroadcastMachine';
import { driveMachine } from './tcpTestKit';

const config: BroadcastConfig = { where: 'webSocketBroadcast', policy: 'drop-oldest', maxBufferedBytes: 10, replayLatest: 2, closeOnComplete: true, closeTimeoutMs: 5000, maxTotalBufferedBytes: Infinity };

type Key = string;
const value = (text: string): BroadcastEvent<Key> => ({ type: 'value', text, bytes: Buffer.byteLength(text) });
const connect = (client: Key, initial?: string[]): BroadcastEvent<Key> => ({ type: 'connect', client, peer: `peer-${client}`, initial });
const sent = (client: Key, bytes: number): BroadcastEvent<Key> => ({ type: 'sent', client, bytes });
const closed = (client: Key): BroadcastEvent<Key> => ({ type: 'closed', client });
const sourceComplete: BroadcastEvent<Key> = { type: 'sourceComplete' };
const unsubscribe: BroadcastEvent<Key> = { type: 'unsubscribe' };
const timer: BroadcastEvent<Key> = { type: 'timer' };
const boom = new RivuletError('ERR_INVALID_VALUE', 'upstream failed');
const fail: BroadcastEvent<Key> = { type: 'fail', error: boom };

function show(effect: BroadcastEffect<Key>): string {
  switch (effect.type) {
    case 'send':
      return `send ${effect.client} ${effect.text}`;
    case 'close':
      return `close ${effect.client} ${effect.code} ${effect.reason} ${effect.graceMs}`;
    case 'terminate':
      return `terminate ${effect.client}`;
    case 'report':
      return `report ${effect.error.code}: ${effect.error.message}`;
    case 'count':
      return `count ${effect.counter} ${effect.by > 0 ? '+' : ''}${effect.by}`;
    case 'setTimer':
      return `setTimer ${effect.delayMs}`;
    case 'error':
      return `error ${(effect.error as Error).message}`;
    default:
      return effect.type;
  }
}

function broadcast(overrides: Partial<BroadcastConfig> = {}, ...path: BroadcastEvent<Key>[]) {
  const machine = driveMachine(broadcastTransition<Key>({ ...config, ...overrides }), initialBroadcastState<Key>(), show, path);
  return {
    send: machine.send,
    get phase(): BroadcastPhase {
      return machine.state.phase;
    },
    client(key: Key): ClientPhase | 'gone' {
      return machine.state.clients.get(key)?.phase ?? 'gone';
    },
    /** What the machine holds for a client not closing: in its socket and in its queue. */
    waiting(key: Key): number {
      const client = machine.state.clients.get(key);
      return client === undefined || client.phase === 'closing' ? 0 : client.inSocket + client.queuedBytes;
    },
    backlog(key: Key): number {
      return backlogOf(machine.state.clients.get(key));
    },
  };
}

describe('webSocketBroadcast state machine: the server', () => {
  it('serving: sends every value to every client, in order; a late client first gets the last replayLatest values', () => {
    const machine = broadcast();
    expect(machine.send(connect('A'))).toEqual(['count clients +1']);
    expect(machine.send(value('a'), value('b'), value('c'))).toEqual(['send A a', 'send A b', 'send A c']);
    expect(machine.send(connect('B'))).toEqual(['count clients +1', 'send B b', 'send B c']);
    expect(machine.send(value('d'))).toEqual(['send A d', 'send B d']);
  });

  it('serving: a snapshot, when given, is sent instead of the replay', () => {
    const machine = broadcast({}, value('a'));
    expect(machine.send(connect('A', ['s1', 's2']))).toEqual(['count clients +1', 'send A s1', 'send A s2']);
  });

  it('serving -> completed at once when the source completes with no client', () => {
    const machine = broadcast();
    expect(machine.send(sourceComplete)).toEqual(['stopAccepting', 'complete']);
    expect(machine.phase).toBe('completed');
  });

  it('serving -> draining: clients with nothing waiting are closed with 1000, the others once they have it all', () => {
    const machine = broadcast({}, connect('A'), connect('B'), value('0123456789'), value('x'));
    expect([machine.client('A'), machine.client('B')]).toEqual(['backlogged', 'backlogged']);
    machine.send(sent('A', 10));
    expect(machine.client('A')).toBe('live');
    expect(machine.send(sourceComplete)).toEqual(['stopAccepting', 'close A 1000 end of stream 5000', 'setTimer 5000']);
    expect(machine.phase).toBe('draining');
    expect(machine.send(sent('B', 10))).toEqual(['send B x', 'close B 1000 end of stream 5000']);
    expect(machine.send(closed('A'))).toEqual(['count clients -1']);
    expect(machine.send(closed('B'))).toEqual(['count clients -1', 'clearTimer', 'complete']);
    expect(machine.phase).toBe('completed');
  });

  it('draining: the cut-off terminates the clients still there; their closes complete the sink', () => {
    const machine = broadcast({}, connect('A'), value('0123456789'), value('x'), sourceComplete);
    expect(machine.phase).toBe('draining');
    expect(machine.send(timer)).toEqual(['terminate A']);
    expect(machine.send(closed('A'))).toEqual(['count clients -1', 'clearTimer', 'complete']);
  });

  it('draining: a client whose handshake ends now gets the replay, then 1000', () => {
    const machine = broadcast({}, connect('A'), value('0123456789'), value('b'), sourceComplete);
    expect(machine.send(connect('B'))).toEqual(['count clients +1', 'send B 0123456789']);
    expect(machine.send(sent('B', 10))).toEqual(['send B b', 'close B 1000 end of stream 5000']);
  });

  it('serving -> lingering with closeOnComplete false: keeps serving the replay to new clients until unsubscribe', () => {
    const machine = broadcast({ closeOnComplete: false }, connect('A'), value('a'));
    expect(machine.send(sourceComplete)).toEqual([]);
    expect(machine.phase).toBe('lingering');
    expect(machine.send(connect('B'))).toEqual(['count clients +1', 'send B a']);
    expect(machine.send(unsubscribe)).toEqual(['close A 1001 going away 1000', 'close B 1001 going away 1000', 'stopAccepting']);
    expect(machine.phase).toBe('stopped');
  });

  it.each<[string, BroadcastEvent<Key>[], string[]]>([
    ['serving', [], []],
    ['lingering', [sourceComplete], []],
    ['draining', [value('0123456789'), value('x'), sourceComplete], ['clearTimer']],
  ])('%s -> failed: clients still open are closed with 1011, then the error', (_phase, path, timerEffects) => {
    const machine = broadcast({ closeOnComplete: _phase !== 'lingering' }, connect('A'), ...path);
    expect(machine.phase).toBe(_phase);
    expect(machine.send(fail)).toEqual(['close A 1011 stream failed 1000', 'stopAccepting', ...timerEffects, 'error upstream failed']);
    expect(machine.phase).toBe('failed');
  });

  it('draining -> stopped on unsubscribe: clients already closing are not closed again', () => {
    const machine = broadcast({}, connect('A'), connect('B'), value('0123456789'), value('x'), sent('A', 10), sourceComplete);
    expect([machine.client('A'), machine.client('B')]).toEqual(['closing', 'backlogged']);
    expect(machine.send(unsubscribe)).toEqual(['close B 1001 going away 1000', 'stopAccepting', 'clearTimer']);
  });

  it.each<[BroadcastPhase, BroadcastEvent<Key>[], string, string[]]>([
    ['completed', [sourceComplete, closed('A')], 'close C 1000 end of stream 1000', []],
    ['failed', [fail], 'close C 1011 stream failed 1000', ['count clients -1']],
    ['stopped', [unsubscribe], 'close C 1001 going away 1000', ['count clients -1']],
  ])('%s is final: a client arriving now is sent away, closes are counted, nothing else happens', (phase, path, farewell, closeOfA) => {
    const machine = broadcast({}, connect('A'), ...path);
    expect(machine.phase).toBe(phase);
    expect(machine.send(connect('C'))).toEqual([farewell]);
    expect(machine.send(value('v'), sent('A', 1), sourceComplete, fail, unsubscribe, timer)).toEqual([]);
    expect(machine.send(closed('C'))).toEqual([]);
    expect(machine.send(closed('A'))).toEqual(closeOfA);
    expect(machine.phase).toBe(phase);
  });

  it('ignores a late cut-off and notifications that do not fit the phase', () => {
    const serving = broadcast({}, connect('A'));
    expect(serving.send(timer, sent('B', 3), closed('B'))).toEqual([]);
    const lingering = broadcast({ closeOnComplete: false }, connect('A'), sourceComplete);
    expect(lingering.send(timer, sourceComplete, value('late'))).toEqual([]);
  });
});

describe('webSocketBroadcast state machine: each client', () => {
  it('live -> backlogged when its socket holds maxBufferedBytes; back to live once the socket takes it', () => {
    const machine = broadcast({}, connect('A'));
    expect(machine.send(value('0123456789'))).toEqual(['send A 0123456789']);
    expect(machine.send(value('a'), value('b'))).toEqual([]);
    expect(machine.client('A')).toBe('backlogged');
    expect(machine.send(sent('A', 10))).toEqual(['send A a', 'send A b']);
    expect(machine.client('A')).toBe('live');
  });

  it("backlogged, 'drop-oldest': past the bound the oldest waiting messages go, counted; the newest always stays", () => {
    const machine = broadcast({}, connect('A'), value('0123456789'));
    expect(machine.send(value('aaaa'), value('bbbb'))).toEqual([]);
    expect(machine.send(value('cccc'))).toEqual(['count messagesDropped +1']);
    expect(machine.send(value('x'.repeat(25)))).toEqual(['count messagesDropped +2']);
    expect(machine.send(sent('A', 10))).toEqual([`send A ${'x'.repeat(25)}`]);
  });

  it("backlogged, 'disconnect': past the bound the client is reported and closed with 1013, and sent nothing more", () => {
    const machine = broadcast({ policy: 'disconnect' }, connect('A'), connect('B'), value('0123456789'));
    machine.send(sent('B', 10));
    expect(machine.send(value('aaaaa'), value('bbbbb'))).toEqual(['send B aaaaa', 'send B bbbbb']);
    expect(machine.send(value('c'))).toEqual([
      'count slowClientsDisconnected +1',
      'report ERR_SLOW_CONSUMER: webSocketBroadcast: disconnected peer-A: more than 10 bytes waiting',
      'close A 1013 slow consumer 1000',
    ]);
    expect(machine.client('A')).toBe('closing');
    expect(machine.send(sent('A', 10), value('d'))).toEqual([]);
  });

  // Connection loss in each phase of a client: it is gone, and so is what it had waiting.
  it('a client lost while live is forgotten; the others go on', () => {
    const machine = broadcast({}, connect('A'), connect('B'));
    expect(machine.send(closed('B'))).toEqual(['count clients -1']);
    expect(machine.client('B')).toBe('gone');
    expect(machine.send(value('next'))).toEqual(['send A next']);
  });

  it('a client lost while backlogged is forgotten with its queue; the others keep theirs', () => {
    const machine = broadcast({}, connect('A'), connect('B'), value('0123456789'), value('w'));
    expect(machine.client('B')).toBe('backlogged');
    expect(machine.send(closed('B'))).toEqual(['count clients -1']);
    expect(machine.send(sent('B', 10), sent('A', 10))).toEqual(['send A w']);
  });

  it('a client lost while closing is forgotten; while draining, the last one to go completes the sink', () => {
    const machine = broadcast({}, connect('A'), connect('B'), value('0123456789'), value('w'), sent('B', 10), sourceComplete);
    expect([machine.client('A'), machine.client('B')]).toEqual(['backlogged', 'closing']);
    expect(machine.send(closed('B'))).toEqual(['count clients -1']);
    expect(machine.send(sent('A', 10))).toEqual(['send A w', 'close A 1000 end of stream 5000']);
    expect(machine.send(closed('A'))).toEqual(['count clients -1', 'clearTimer', 'complete']);
  });

  it('a client found closing from its side is sent nothing more, and never counted as slow', () => {
    const machine = broadcast({ policy: 'disconnect' }, connect('A'), value('0123456789'), value('waiting'));
    expect(machine.send({ type: 'leaving', client: 'A' })).toEqual([]);
    expect(machine.client('A')).toBe('closing');
    expect(machine.send(value('0123456789'), value('more'), sent('A', 10))).toEqual([]);
    expect(machine.send(closed('A'))).toEqual(['count clients -1']);
  });

  it('a client that comes back gets the replay, not what it missed', () => {
    const machine = broadcast({}, connect('A'), value('1'), value('2'), closed('A'), value('3'), value('4'), value('5'));
    expect(machine.send(connect('A'))).toEqual(['count clients +1', 'send A 4', 'send A 5']);
  });
});

describe('webSocketBroadcast state machine: all clients together', () => {
  /** Bytes waiting for the clients not closing, from the machine's own record of them. */
  const waiting = (machine: ReturnType<typeof broadcast>, keys: Key[]): number =>
    keys.map((k) => machine.waiting(k)).reduce((a, b) => a + b, 0);

  it('past maxTotalBufferedBytes, closes backlogged clients with 1013 and reports them; live clients are never closed for it', () => {
    // maxBufferedBytes 10 each; 25 together.
    const machine = broadcast({ maxTotalBufferedBytes: 25 }, connect('A'), connect('B'), connect('C'));
    // 30 together, but every socket had room: that is on its way out.
    expect(machine.send(value('0123456789'))).toEqual(['send A 0123456789', 'send B 0123456789', 'send C 0123456789']);
    // A reads nothing; B and C take everything.
    expect(machine.send(sent('B', 10), sent('C', 10), value('aaaaa'))).toEqual(['send B aaaaa', 'send C aaaaa']);
    expect([machine.client('A'), machine.client('B'), machine.client('C')]).toEqual(['backlogged', 'live', 'live']);
    expect(waiting(machine, ['A', 'B', 'C'])).toBe(25);
    expect(machine.send(value('b'))).toEqual([
      'send B b',
      'send C b',
      'count slowClientsDisconnected +1',
      'report ERR_SLOW_CONSUMER: webSocketBroadcast: disconnected peer-A: 16 bytes waiting, the most of any client, while all clients together had 28 waiting, above maxTotalBufferedBytes 25',
      'close A 1013 slow consumer 1000',
    ]);
    expect(waiting(machine, ['A', 'B', 'C'])).toBe(12);
  });

  it('closes as many as it takes, most waiting first, ties in connection order; a client closing no longer counts', () => {
    const machine = broadcast({ maxTotalBufferedBytes: 30 }, connect('A'), connect('B'), connect('C'), value('0123456789'));
    // No one reads: each has 20 waiting, 60 together; closing A and B brings it to 20.
    const effects = machine.send(value('0123456789'));
    expect(effects.filter((e) => e.startsWith('close'))).toEqual(['close A 1013 slow consumer 1000', 'close B 1013 slow consumer 1000']);
    expect(effects.filter((e) => e.startsWith('report')).map((e) => e.replace(/:.*peer/, ' peer'))).toEqual([
      'report ERR_SLOW_CONSUMER peer-A: 20 bytes waiting, the most of any client, while all clients together had 60 waiting, above maxTotalBufferedBytes 30',
      'report ERR_SLOW_CONSUMER peer-B: 20 bytes waiting, the most of any client, while all clients together had 40 waiting, above maxTotalBufferedBytes 30',
    ]);
    expect([machine.client('A'), machine.client('B'), machine.client('C')]).toEqual(['closing', 'closing', 'backlogged']);
    // C alone, under its own bound: its oldest message goes, and it stays.
    expect(machine.send(sent('A', 10), sent('B', 10), value('y'))).toEqual(['count messagesDropped +1']);
    expect(waiting(machine, ['A', 'B', 'C'])).toBe(11);
  });

  it('a snapshot that takes the total over the bound counts too', () => {
    const machine = broadcast({ maxTotalBufferedBytes: 15 }, connect('A'), value('0123456789'), value('abcde'));
    expect(machine.send(connect('B', ['0123456789', 'x']))).toEqual([
      'count clients +1',
      'send B 0123456789',
      'count slowClientsDisconnected +1',
      'report ERR_SLOW_CONSUMER: webSocketBroadcast: disconnected peer-A: 15 bytes waiting, the most of any client, while all clients together had 26 waiting, above maxTotalBufferedBytes 15',
      'close A 1013 slow consumer 1000',
    ]);
  });
});

describe('webSocketBroadcast state machine: making room', () => {
  it('evict: the client chosen by the endpoint is counted, reported and closed with 1013; then sent nothing', () => {
    const machine = broadcast({}, connect('A'), connect('B'));
    const error = new RivuletError('ERR_CONNECTION', 'webSocketBroadcast: closed peer-A to make room for peer-C');
    expect(machine.send({ type: 'evict', client: 'A', error })).toEqual([
      'count clientsEvicted +1',
      'report ERR_CONNECTION: webSocketBroadcast: closed peer-A to make room for peer-C',
      'close A 1013 making room 1000',
    ]);
    expect(machine.send(value('v'))).toEqual(['send B v']);
    // Already closing, or gone: nothing more.
    expect(machine.send({ type: 'evict', client: 'A', error }, { type: 'evict', client: 'Z', error })).toEqual([]);
  });

  it('backlogOf: how slow a client is, for the endpoint to choose; 0 while it keeps up', () => {
    const machine = broadcast({}, connect('A'), connect('B'), value('0123456789'), sent('B', 10), value('abc'));
    expect([machine.backlog('A'), machine.backlog('B')]).toEqual([13, 0]);
    expect(machine.backlog('Z')).toBe(0);
  });
});

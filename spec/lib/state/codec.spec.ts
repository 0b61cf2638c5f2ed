import { decodeCheckpoint, encodeCheckpoint, Checkpoint, RivuletError } from 'rivulet';

const checkpoint = (state: unknown): Checkpoint => ({
  seq: 7,
  job: 'job',
  values: 3,
  sourcePosition: { file: 0, line: 3 },
  sinkPosition: 120,
  state: new Map([['uid', { kind: 'k', version: 1, fingerprint: 'f', state }]]),
});

describe('checkpoint codec', () => {
  it('keeps Maps in insertion order with keys of any type, Sets, and numbers exactly', () => {
    const objectKey = { repo: 'a/b' };
    const state = {
      byKey: new Map<unknown, unknown>([[3, 'three'], ['__proto__', 1], [objectKey, new Set([2, 1, NaN])], [0, 'zero']]),
      numbers: [0.1 + 0.2, -0, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER, 5e-324],
      missing: undefined,
    };
    const back = decodeCheckpoint(encodeCheckpoint(checkpoint(state)), 'test').state.get('uid')!.state as typeof state;
    expect([...back.byKey.keys()].map((k) => (typeof k === 'object' ? 'object' : k))).toEqual([3, '__proto__', 'object', 0]);
    expect([...([...back.byKey.values()][2] as Set<number>)]).toEqual([2, 1, NaN]);
    back.numbers.forEach((n, i) => expect(Object.is(n, state.numbers[i])).toBe(true));
    expect('missing' in back && back.missing === undefined).toBe(true);
  });

  it('detects a damaged, cut-short or foreign file', () => {
    const bytes = encodeCheckpoint(checkpoint({ n: 1 }));
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 2] ^= 1;
    expect(() => decodeCheckpoint(flipped, 'f1')).toThrow('f1: corrupt checkpoint: checksum mismatch');
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 5), 'f2')).toThrow(/f2: corrupt checkpoint: \d+ bytes of \d+ \(half-written\?\)/);
    expect(() => decodeCheckpoint(Buffer.from('{"seq":1}\n'), 'f3')).toThrow('f3: corrupt checkpoint: not a rivulet checkpoint (or of another version)');
  });

  it('names the operator whose state cannot be saved', () => {
    let error: unknown;
    try {
      encodeCheckpoint(checkpoint({ callback: () => 1 }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RivuletError);
    expect(error).toMatchObject({ code: 'ERR_NOT_CHECKPOINTABLE', message: expect.stringMatching(/^checkpoint: the state of "uid" \(k\) cannot be saved: /) });
  });
});

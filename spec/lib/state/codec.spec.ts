import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { serialize } from 'node:v8';
import { decodeCheckpoint, encodeCheckpoint, Checkpoint, RivuletError } from 'rivulet';
import { v8Nesting } from '../../../lib/state/codec';

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

const DEPTH = 100_000;

/** A raw event whose payload nests `depth` objects, built from the inside out. */
function deepEvent(depth: number, bottom: unknown = 'bottom'): { type: string; payload: unknown } {
  let payload: unknown = bottom;
  for (let i = 0; i < depth; i++) payload = { deep: payload };
  return { type: 'ForkEvent', payload };
}

/** How many objects wrap the payload's innermost value, and that value, without recursion. */
function depthOf(event: { payload: unknown }): [number, unknown] {
  let depth = 0;
  let v = event.payload;
  while (typeof v === 'object' && v !== null && 'deep' in v) {
    v = (v as { deep: unknown }).deep;
    depth++;
  }
  return [depth, v];
}

const headerOf = (bytes: Buffer): string => bytes.toString('latin1', 0, bytes.indexOf(0x0a, bytes.indexOf(0x0a) + 1));

describe('checkpoint codec on deeply nested state', () => {
  it('writes a state holding a value nested 100,000 levels deep with the flat codec, and reads it back', () => {
    const state = { recent: new Map([['a/b', [deepEvent(DEPTH)]]]), numbers: [-0, NaN], missing: undefined };
    const bytes = encodeCheckpoint(checkpoint(state));
    expect(headerOf(bytes)).toMatch(/^rivulet-checkpoint 1\nsha256:[0-9a-f]{64} bytes:\d+ codec:flat$/);
    const back = decodeCheckpoint(bytes, 'test');
    expect({ ...back, state: undefined }).toEqual({ seq: 7, job: 'job', values: 3, sourcePosition: { file: 0, line: 3 }, sinkPosition: 120, state: undefined });
    const cell = back.state.get('uid')!;
    expect([cell.kind, cell.version, cell.fingerprint]).toEqual(['k', 1, 'f']);
    const restored = cell.state as typeof state;
    expect(depthOf(restored.recent.get('a/b')![0])).toEqual([DEPTH, 'bottom']);
    expect(restored.numbers.map((n) => Object.is(n, -0) || Number.isNaN(n))).toEqual([true, true]);
    expect('missing' in restored).toBe(true);
  });

  it('writes flat a body deeper than 1,000 levels, which deserialize might not read back, and keeps V8 below', () => {
    const shallow = encodeCheckpoint(checkpoint({ event: deepEvent(500) }));
    const deep = encodeCheckpoint(checkpoint({ event: deepEvent(1500) }));
    expect(headerOf(shallow)).toMatch(/ codec:v8$/);
    expect(headerOf(deep)).toMatch(/ codec:flat$/);
    expect(depthOf((decodeCheckpoint(shallow, 'shallow').state.get('uid')!.state as { event: { payload: unknown } }).event)).toEqual([500, 'bottom']);
    expect(depthOf((decodeCheckpoint(deep, 'deep').state.get('uid')!.state as { event: { payload: unknown } }).event)).toEqual([1500, 'bottom']);
  });

  it('keeps a deep V8 body when the flat codec refuses what V8 takes (a class instance)', () => {
    class Tally {
      n = 1;
    }
    const bytes = encodeCheckpoint(checkpoint({ event: deepEvent(1500), tally: new Tally() }));
    expect(headerOf(bytes)).toMatch(/ codec:v8$/);
  });

  it('reads a header without a codec (older checkpoints) as V8', () => {
    const bytes = encodeCheckpoint(checkpoint({ n: 1 }));
    const header = headerOf(bytes);
    expect(header).toMatch(/ codec:v8$/);
    const old = Buffer.concat([Buffer.from(`${header.replace(/ codec:v8$/, '')}\n`, 'latin1'), bytes.subarray(header.length + 1)]);
    expect(decodeCheckpoint(old, 'old').state.get('uid')!.state).toEqual({ n: 1 });
    const unknown = Buffer.concat([Buffer.from(`${header.replace(/ codec:v8$/, ' codec:json')}\n`, 'latin1'), bytes.subarray(header.length + 1)]);
    expect(() => decodeCheckpoint(unknown, 'f4')).toThrow('f4: corrupt checkpoint: damaged header');
  });

  it('reports a body its codec cannot read as a corrupt checkpoint', () => {
    const body = Buffer.from('not a flat body');
    const bytes = Buffer.concat([Buffer.from(`rivulet-checkpoint 1\nsha256:${createHash('sha256').update(body).digest('hex')} bytes:${body.length} codec:flat\n`, 'latin1'), body]);
    let error: unknown;
    try {
      decodeCheckpoint(bytes, 'f5');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RivuletError);
    expect(error).toMatchObject({ code: 'ERR_CHECKPOINT_STORE', message: expect.stringMatching(/^f5: corrupt checkpoint: its flat body cannot be read: /) });
  });

  it('names the operator and the path of a function in a state too deep for V8 to serialise', () => {
    let error: unknown;
    try {
      encodeCheckpoint(checkpoint({ event: deepEvent(5000, () => 1) }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RivuletError);
    expect(error).toMatchObject({
      code: 'ERR_NOT_CHECKPOINTABLE',
      message: expect.stringMatching(/^checkpoint: the state of "uid" \(k\) cannot be saved: it is nested too deeply for V8's serialiser, and state\.event\.payload\.deep\.deep.*…\(\d+ more\)….*\.deep is a function, which cannot be encoded/),
    });
  });
});

/** How deeply V8 nests a value's containers (its bytes have one begin tag per level), walked here. */
function nesting(v: unknown): number {
  if (typeof v !== 'object' || v === null) return 0;
  const tag = Object.prototype.toString.call(v);
  let children: unknown[];
  if (tag === '[object Map]') children = [...(v as Map<unknown, unknown>)].flat();
  else if (tag === '[object Set]') children = [...(v as Set<unknown>)];
  else if (tag === '[object Object]' || Array.isArray(v)) children = Object.values(v);
  else return 0; // Dates, RegExps, boxed primitives, typed arrays, Buffers, ArrayBuffers: leaves
  return 1 + Math.max(0, ...children.map(nesting));
}

describe('v8Nesting', () => {
  const leaf = fc.oneof(
    fc.constant(null),
    fc.constant(undefined),
    fc.boolean(),
    fc.double(),
    fc.integer(),
    fc.bigInt(),
    fc.string({ unit: 'binary' }),
    fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 5 }),
    fc.date({ noInvalidDate: false }),
    fc.uint8Array({ maxLength: 5 }).map((bytes) => Buffer.from(bytes)),
    fc.float64Array({ maxLength: 3 }),
    fc.uint8Array({ maxLength: 5 }).map((bytes) => bytes.buffer),
    fc.string({ unit: 'binary', maxLength: 5 }).map((s) => new RegExp(s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&'), 'g')),
    fc.oneof(fc.string(), fc.double(), fc.boolean(), fc.bigInt()).map((p) => Object(p) as object),
  );
  const { value } = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.array(tie('value'), { maxLength: 4 }),
      fc.sparseArray(tie('value'), { maxLength: 50, maxNumElements: 3 }),
      fc.dictionary(fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom('0', '12', '__proto__')), tie('value'), { maxKeys: 4, noNullPrototype: true }),
      fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 }).map((entries) => new Map(entries)),
      fc.array(tie('value'), { maxLength: 3 }).map((members) => new Set(members)),
    ),
  }));

  it('reads the depth of any value from its V8 bytes', () => {
    fc.assert(
      fc.property(value, (v) => {
        const depth = nesting(v);
        const body = serialize(v);
        expect(v8Nesting(body, depth)).toBe('within');
        if (depth > 0) expect(v8Nesting(body, depth - 1)).toBe('deeper');
      }),
      { numRuns: 200 },
    );
  });

  it('says unknown for what it cannot read', () => {
    expect(v8Nesting(serialize({ error: new Error('x') }), 10)).toBe('unknown');
  });
});

import { FrameError, Framing, RivuletError, lengthPrefixed, newlineDelimited } from 'rivulet';

/** Decodes `chunks` pushed one by one, returning the frames and the error (if any) of push/end. */
function decodeText(framing: Framing, chunks: Buffer[], peer?: string): { frames: string[]; error?: FrameError } {
  const frames: string[] = [];
  const decoder = framing.textDecoder((text) => frames.push(text), { peer });
  try {
    for (const chunk of chunks) decoder.push(chunk);
    decoder.end();
  } catch (error) {
    return { frames, error: error as FrameError };
  }
  return { frames };
}

/** Every way of cutting `bytes` in two, plus one-byte chunks. */
function splits(bytes: Buffer): Buffer[][] {
  const out: Buffer[][] = [[bytes]];
  for (let i = 0; i <= bytes.length; i++) out.push([bytes.subarray(0, i), bytes.subarray(i)]);
  out.push([...bytes].map((b) => Buffer.from([b])));
  return out;
}

/** Independent reference encoder for the length-prefixed format. */
function frameBytes(payload: string, headerBytes: number): Buffer {
  const body = Buffer.from(payload, 'utf8');
  const header = Buffer.alloc(headerBytes);
  header.writeUIntBE(body.length, 0, headerBytes);
  return Buffer.concat([header, body]);
}

describe('lengthPrefixed', () => {
  const payloads = ['GET / HTTP/1.1', '', 'é€😀', 'END_OF_DAY', 'x'.repeat(300)];

  it.each([1, 2, 4] as const)('decodes frames split at every chunk boundary (headerBytes %d)', (headerBytes) => {
    const framing = lengthPrefixed({ headerBytes });
    const sent = headerBytes === 1 ? payloads.filter((p) => Buffer.byteLength(p) < 256) : payloads;
    const wire = Buffer.concat(sent.map((p) => frameBytes(p, headerBytes)));
    for (const chunks of splits(wire)) {
      expect(decodeText(framing, chunks)).toEqual({ frames: sent });
    }
  });

  it.each([1, 2, 4] as const)('encodes what an independent encoder writes and round-trips (headerBytes %d)', (headerBytes) => {
    const framing = lengthPrefixed({ headerBytes });
    for (const payload of ['', 'a', 'é€😀']) {
      expect(framing.encode(payload)).toEqual(frameBytes(payload, headerBytes));
      expect(framing.encode(Buffer.from(payload))).toEqual(frameBytes(payload, headerBytes));
      expect(framing.encode(new Uint8Array(Buffer.from(payload)))).toEqual(frameBytes(payload, headerBytes));
    }
    expect(decodeText(framing, [framing.encode('round'), framing.encode('trip')]).frames).toEqual(['round', 'trip']);
  });

  it('defaults to 4-byte headers and 1 MiB frames, capped by what the header can express', () => {
    expect(lengthPrefixed()).toMatchObject({ kind: 'length-prefixed', headerBytes: 4, maxFrameBytes: 1_048_576 });
    expect(lengthPrefixed({ headerBytes: 1 }).maxFrameBytes).toBe(255);
    expect(lengthPrefixed({ headerBytes: 2 }).maxFrameBytes).toBe(65_535);
  });

  it('rejects bad options at creation', () => {
    expect(() => lengthPrefixed({ headerBytes: 3 as 4 })).toThrow(/headerBytes must be 1, 2 or 4/);
    expect(() => lengthPrefixed({ headerBytes: 1, maxFrameBytes: 256 })).toThrow(/does not fit a 1-byte header/);
    expect(() => lengthPrefixed({ maxFrameBytes: 0 })).toThrow(/maxFrameBytes/);
    expect(() => lengthPrefixed({ maxFrameBytes: 1.5 })).toThrow(RivuletError);
  });

  it('allows a frame of exactly maxFrameBytes and rejects one more, on encode and decode', () => {
    const framing = lengthPrefixed({ maxFrameBytes: 10 });
    expect(decodeText(framing, [frameBytes('x'.repeat(10), 4)]).frames).toEqual(['x'.repeat(10)]);
    expect(() => framing.encode('x'.repeat(11))).toThrow(expect.objectContaining({ code: 'ERR_FRAME_TOO_LARGE' }));
    const { frames, error } = decodeText(framing, [frameBytes('ok', 4), frameBytes('x'.repeat(11), 4)], '10.0.0.1:99');
    expect(frames).toEqual(['ok']);
    expect(error).toBeInstanceOf(FrameError);
    expect(error).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE', frame: 2, byteOffset: 6, peer: '10.0.0.1:99' });
    expect(error?.message).toMatch(/frame 2 at byte 6 from 10\.0\.0\.1:99 declares 11 bytes, above maxFrameBytes 10/);
  });

  it('rejects an oversized declared length as soon as the header arrives, before the payload', () => {
    const frames: Buffer[] = [];
    const decoder = lengthPrefixed().decoder((frame) => frames.push(frame));
    decoder.push(Buffer.from([0x7f, 0xff])); // half a header: nothing to judge yet
    expect(() => decoder.push(Buffer.from([0xff, 0xff]))).toThrow(expect.objectContaining({ code: 'ERR_FRAME_TOO_LARGE' }));
    // The decoder stays failed.
    expect(() => decoder.push(Buffer.from('more'))).toThrow(/declares 2147483647 bytes/);
    expect(() => decoder.end()).toThrow(/declares/);
    expect(frames).toEqual([]);
  });

  it('reports a frame truncated in its payload or in its header at end()', () => {
    const framing = lengthPrefixed();
    const whole = frameBytes('hello', 4);
    const inPayload = decodeText(framing, [frameBytes('a', 4), whole.subarray(0, 7)], 'p:1');
    expect(inPayload.frames).toEqual(['a']);
    expect(inPayload.error).toMatchObject({ code: 'ERR_FRAME_TRUNCATED', frame: 2, byteOffset: 5 });
    expect(inPayload.error?.message).toMatch(/from p:1 was cut short: the stream ended after 3 of its 5 bytes/);
    const inHeader = decodeText(framing, [whole.subarray(0, 2)]);
    expect(inHeader.error?.message).toMatch(/after 2 of its 4 header bytes/);
  });

  it('fails invalid UTF-8 in text mode, naming the frame, but passes the bytes through in raw mode', () => {
    const framing = lengthPrefixed();
    const bad = Buffer.concat([frameBytes('fine', 4), Buffer.from([0, 0, 0, 2, 0xc3, 0x28]), frameBytes('after', 4)]);
    const { frames, error } = decodeText(framing, [bad], 'peer:7');
    expect(frames).toEqual(['fine']);
    expect(error).toMatchObject({ code: 'ERR_INVALID_UTF8', frame: 2, byteOffset: 8, peer: 'peer:7' });
    const raw: Buffer[] = [];
    const decoder = framing.decoder((frame) => raw.push(Buffer.from(frame)));
    decoder.push(bad);
    decoder.end();
    expect(raw).toEqual([Buffer.from('fine'), Buffer.from([0xc3, 0x28]), Buffer.from('after')]);
  });

  it('counts frames and bytes, and keeps the unread rest when the callback throws', () => {
    const framing = lengthPrefixed({ headerBytes: 1 });
    const seen: string[] = [];
    const decoder = framing.textDecoder((text) => {
      seen.push(text);
      if (text === 'boom') throw new Error('callback failed');
    });
    const wire = Buffer.concat(['a', 'boom', 'b', 'c'].map((p) => frameBytes(p, 1)));
    expect(() => decoder.push(wire.subarray(0, 9))).toThrow('callback failed');
    decoder.push(wire.subarray(9));
    decoder.end();
    expect(seen).toEqual(['a', 'boom', 'b', 'c']);
    expect({ frames: decoder.frames, bytes: decoder.bytes }).toEqual({ frames: 4, bytes: wire.length });
  });

  it('decodes 200k small frames pushed in few large chunks', () => {
    const framing = lengthPrefixed();
    const count = 200_000;
    const wire = Buffer.alloc(count * 5);
    for (let i = 0; i < count; i++) {
      wire.writeUInt32BE(1, i * 5);
      wire[i * 5 + 4] = 48 + (i % 10);
    }
    let n = 0;
    let inOrder = true;
    const decoder = framing.textDecoder((text) => {
      if (text !== String(n % 10)) inOrder = false;
      n++;
    });
    for (let offset = 0; offset < wire.length; offset += 65_531) decoder.push(wire.subarray(offset, offset + 65_531));
    decoder.end();
    expect({ n, inOrder }).toEqual({ n: count, inOrder: true });
  });
});

describe('newlineDelimited', () => {
  const framing = newlineDelimited();

  it('decodes lines split at every chunk boundary, dropping a \\r before \\n', () => {
    const wire = Buffer.from('GET /\r\n\nsecond line\nthird é😀\r\nlast\n');
    for (const chunks of splits(wire)) {
      expect(decodeText(framing, chunks)).toEqual({ frames: ['GET /', '', 'second line', 'third é😀', 'last'] });
    }
  });

  it('treats a final line without \\n as a complete frame at a clean end', () => {
    expect(decodeText(framing, [Buffer.from('a\nb')]).frames).toEqual(['a', 'b']);
    expect(decodeText(framing, [Buffer.from('a\nb\r')]).frames).toEqual(['a', 'b']);
    expect(decodeText(framing, [Buffer.from('a\n')]).frames).toEqual(['a']);
  });

  it('allows a line of exactly maxFrameBytes (with or without \\r) and rejects one more', () => {
    const small = newlineDelimited({ maxFrameBytes: 4 });
    expect(decodeText(small, [Buffer.from('abcd\nabcd\r\n')]).frames).toEqual(['abcd', 'abcd']);
    expect(decodeText(small, [Buffer.from('ab'), Buffer.from('cd\r'), Buffer.from('\n')]).frames).toEqual(['abcd']);
    const { frames, error } = decodeText(small, [Buffer.from('ok\nabcde\n')], 'h:1');
    expect(frames).toEqual(['ok']);
    expect(error).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE', frame: 2, byteOffset: 3, peer: 'h:1' });
  });

  it('fails a line that grows past the limit without waiting for its newline', () => {
    const frames: Buffer[] = [];
    const decoder = newlineDelimited({ maxFrameBytes: 8 }).decoder((frame) => frames.push(frame));
    decoder.push(Buffer.from('123456789')); // 9 bytes: could still be 8 bytes plus \r
    expect(() => decoder.push(Buffer.from('0'))).toThrow(/longer than maxFrameBytes 8 with no newline/);
    expect(() => newlineDelimited({ maxFrameBytes: 8 }).decoder(() => undefined).push(Buffer.alloc(100, 97))).toThrow(
      expect.objectContaining({ code: 'ERR_FRAME_TOO_LARGE' }),
    );
    expect(frames).toEqual([]);
  });

  it('fails invalid UTF-8 naming the line', () => {
    const { frames, error } = decodeText(framing, [Buffer.from('ok\n'), Buffer.from([0xff, 0x0a])]);
    expect(frames).toEqual(['ok']);
    expect(error).toMatchObject({ code: 'ERR_INVALID_UTF8', frame: 2, byteOffset: 3 });
  });

  it('encodes with a trailing \\n, round-trips, and refuses payloads that would not come back intact', () => {
    expect(framing.encode('hi é')).toEqual(Buffer.from('hi é\n'));
    expect(framing.encode(Buffer.from('raw'))).toEqual(Buffer.from('raw\n'));
    const lines = ['one', '', 'three 😀'];
    expect(decodeText(framing, lines.map((l) => framing.encode(l))).frames).toEqual(lines);
    expect(() => framing.encode('a\nb')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_VALUE' }));
    expect(() => framing.encode('a\r')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_VALUE' }));
    expect(() => newlineDelimited({ maxFrameBytes: 2 }).encode('abc')).toThrow(expect.objectContaining({ code: 'ERR_FRAME_TOO_LARGE' }));
    expect(() => framing.encode(42 as unknown as string)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_VALUE' }));
  });
});

describe('pendingBytes', () => {
  it.each([1, 2, 4] as const)('counts the bytes received of the incomplete frame, header included, at every cut (headerBytes %d)', (headerBytes) => {
    const framing = lengthPrefixed({ headerBytes });
    const frames = ['ab', '', 'cdefg'].map((p) => frameBytes(p, headerBytes));
    const wire = Buffer.concat(frames);
    // Where each frame starts on the wire: the bytes after the last start passed are the pending ones.
    const starts = frames.reduce<number[]>((acc, f) => [...acc, acc[acc.length - 1] + f.length], [0]);
    for (let cut = 0; cut <= wire.length; cut++) {
      const decoder = framing.decoder(() => undefined);
      decoder.push(wire.subarray(0, cut));
      const completeUpTo = Math.max(...starts.filter((s) => s <= cut));
      expect(decoder.pendingBytes).toBe(cut - completeUpTo);
      decoder.push(wire.subarray(cut));
      expect(decoder.pendingBytes).toBe(0);
    }
  });

  it('counts the bytes of a line without its newline yet', () => {
    const decoder = newlineDelimited().decoder(() => undefined);
    decoder.push(Buffer.from('one\ntw'));
    expect(decoder.pendingBytes).toBe(2);
    decoder.push(Buffer.from('o and'));
    expect(decoder.pendingBytes).toBe(7);
    decoder.push(Buffer.from(' more\nx'));
    expect(decoder.pendingBytes).toBe(1);
  });
});

import { appendFileSync, createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChunkReader, ChunkReaderEvents } from '../../../lib/io/chunkReader';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rivulet-chunks-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Bytes that differ at every position, so a chunk out of place or twice shows. */
function fileOf(size: number): { path: string; bytes: Buffer } {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >> 8)) & 0xff;
  const path = join(dir, `f${size}`);
  writeFileSync(path, bytes);
  return { path, bytes };
}

interface Run {
  chunks: Buffer[];
  ended: number;
  errors: Error[];
  /** Resolves when the reader has closed the file. */
  closed: Promise<void>;
  reader: ChunkReader;
}

function run(path: string, chunkBytes: number, start = 0, onChunk?: (chunk: Buffer, r: Run) => void, readBytes = chunkBytes * 3, readsAhead?: number): Run {
  let closed!: () => void;
  const r: Run = { chunks: [], ended: 0, errors: [], closed: new Promise((resolve) => (closed = resolve)), reader: undefined as never };
  const events: ChunkReaderEvents = {
    chunk(bytes) {
      r.chunks.push(Buffer.from(bytes));
      onChunk?.(bytes, r);
    },
    end: () => r.ended++,
    error: (err) => r.errors.push(err),
    closed,
  };
  r.reader = new ChunkReader(path, chunkBytes, readBytes, start, events, readsAhead);
  return r;
}

/** Resolves once another reader has read the whole file: by then a read that was due has long completed. */
function readElsewhere(path: string): Promise<void> {
  return new Promise((resolve, reject) => createReadStream(path).on('data', () => {}).on('end', resolve).on('error', reject));
}

describe('ChunkReader', () => {
  it.each([0, 1, 7, 8, 9, 23, 24, 25, 64, 1000])('delivers a file of %i bytes in order, in chunks of at most 8 from reads of 24, then ends once', async (size) => {
    const { path, bytes } = fileOf(size);
    const r = run(path, 8);
    await r.closed;
    expect(Buffer.concat(r.chunks)).toEqual(bytes);
    expect(r.chunks.every((c) => c.length > 0 && c.length <= 8)).toBe(true);
    expect(r.chunks.length).toBe(Math.ceil(size / 8));
    expect([r.ended, r.errors]).toEqual([1, []]);
  });

  it.each([1, 3, 6])('with %i reads ahead, still delivers every file in order and ends once', async (readsAhead) => {
    for (const size of [0, 5, 24, 25, 71, 72, 73, 500]) {
      const { path, bytes } = fileOf(size);
      const r = run(path, 8, 0, undefined, 24, readsAhead);
      await r.closed;
      expect([size, Buffer.concat(r.chunks).equals(bytes), r.ended, r.errors]).toEqual([size, true, 1, []]);
    }
  });

  it('reads on after a short read, so bytes written to the file meanwhile are not lost to reads issued past its old end', async () => {
    const { path, bytes } = fileOf(30);
    // Reads of 24 at 0, 24 (6 bytes: short), 48 and 72 (nothing there yet) are issued or held while paused.
    const r = run(path, 8, 0, (_chunk, self) => {
      if (self.chunks.length === 1) self.reader.pause();
    }, 24, 3);
    await readElsewhere(path);
    await readElsewhere(path);
    const more = Buffer.from('appended while the reader was paused');
    appendFileSync(path, more);
    r.reader.resume();
    await r.closed;
    expect(Buffer.concat(r.chunks).toString('latin1')).toBe(Buffer.concat([bytes, more]).toString('latin1'));
    expect(r.ended).toBe(1);
  });

  it('starts at the given offset', async () => {
    const { path, bytes } = fileOf(100);
    const r = run(path, 16, 37);
    await r.closed;
    expect(Buffer.concat(r.chunks)).toEqual(bytes.subarray(37));
    expect(r.ended).toBe(1);
  });

  it.each([2, 3, 4])('delivers nothing while paused (from chunk %i on), and the rest in order after resume', async (at) => {
    const { path, bytes } = fileOf(200);
    const r = run(path, 10, 0, (_chunk, self) => {
      if (self.chunks.length === at) self.reader.pause();
    });
    // The pause came with the rest of a read to hand on, or the next read under way: both are held.
    await readElsewhere(path);
    await readElsewhere(path);
    expect(r.chunks.length).toBe(at);
    expect(r.ended).toBe(0);
    r.reader.resume();
    await r.closed;
    expect(Buffer.concat(r.chunks)).toEqual(bytes);
    expect(r.ended).toBe(1);
  });

  it('holds the end found while paused until resume', async () => {
    const { path, bytes } = fileOf(20);
    const r = run(path, 10, 0, (_chunk, self) => {
      if (self.chunks.length === 2) self.reader.pause();
    });
    await readElsewhere(path);
    expect([r.chunks.length, r.ended]).toEqual([2, 0]);
    r.reader.resume();
    await r.closed;
    expect(Buffer.concat(r.chunks)).toEqual(bytes);
    expect(r.ended).toBe(1);
  });

  it.each([2, 3])('after destroy inside chunk %i, delivers nothing more and closes the file once the read under way is back', async (at) => {
    const { path } = fileOf(100);
    const r = run(path, 10, 0, (_chunk, self) => {
      if (self.chunks.length === at) self.reader.destroy();
    });
    await r.closed;
    expect([r.chunks.length, r.ended, r.errors]).toEqual([at, 0, []]);
  });

  it('a handler that pauses and resumes at once goes on in order, each chunk once', async () => {
    const { path, bytes } = fileOf(150);
    const r = run(path, 10, 0, (_chunk, self) => {
      self.reader.pause();
      self.reader.resume();
    });
    await r.closed;
    expect(Buffer.concat(r.chunks)).toEqual(bytes);
    expect(r.ended).toBe(1);
  });

  it('destroyed before the file is open, opens nothing for long and delivers nothing', async () => {
    const { path } = fileOf(100);
    const r = run(path, 10);
    r.reader.destroy();
    await r.closed;
    expect([r.chunks.length, r.ended, r.errors]).toEqual([0, 0, []]);
  });

  it('reports a file that cannot be opened, or read, as an error and nothing else', async () => {
    const missing = run(join(dir, 'no-such-file'), 10);
    await missing.closed;
    expect(missing.errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['ENOENT']);
    const directory = run(dir, 10);
    await directory.closed;
    expect(directory.errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['EISDIR']);
    expect([missing.ended, directory.ended, missing.chunks.length, directory.chunks.length]).toEqual([0, 0, 0, 0]);
  });
});

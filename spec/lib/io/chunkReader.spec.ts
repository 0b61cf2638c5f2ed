import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

function run(path: string, chunkBytes: number, start = 0, onChunk?: (chunk: Buffer, r: Run) => void): Run {
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
  r.reader = new ChunkReader(path, chunkBytes, start, events);
  return r;
}

/** Resolves once another reader has read the whole file: by then a read that was due has long completed. */
function readElsewhere(path: string): Promise<void> {
  return new Promise((resolve, reject) => createReadStream(path).on('data', () => {}).on('end', resolve).on('error', reject));
}

describe('ChunkReader', () => {
  it.each([0, 1, 7, 8, 9, 64, 1000])('delivers a file of %i bytes in order, in chunks of at most 8, then ends once', async (size) => {
    const { path, bytes } = fileOf(size);
    const r = run(path, 8);
    await r.closed;
    expect(Buffer.concat(r.chunks)).toEqual(bytes);
    expect(r.chunks.every((c) => c.length > 0 && c.length <= 8)).toBe(true);
    expect(r.chunks.length).toBe(Math.ceil(size / 8));
    expect([r.ended, r.errors]).toEqual([1, []]);
  });

  it('starts at the given offset', async () => {
    const { path, bytes } = fileOf(100);
    const r = run(path, 16, 37);
    await r.closed;
    expect(Buffer.concat(r.chunks)).toEqual(bytes.subarray(37));
    expect(r.ended).toBe(1);
  });

  it('delivers nothing while paused, and the rest in order after resume', async () => {
    const { path, bytes } = fileOf(200);
    const r = run(path, 10, 0, (_chunk, self) => {
      if (self.chunks.length === 3) self.reader.pause();
    });
    // The pause came while the fourth chunk was already being read: it is held, not delivered.
    await readElsewhere(path);
    await readElsewhere(path);
    expect(r.chunks.length).toBe(3);
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

  it('after destroy inside a chunk, delivers nothing more and closes the file once the read under way is back', async () => {
    const { path } = fileOf(100);
    const r = run(path, 10, 0, (_chunk, self) => {
      if (self.chunks.length === 2) self.reader.destroy();
    });
    await r.closed;
    expect([r.chunks.length, r.ended, r.errors]).toEqual([2, 0, []]);
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

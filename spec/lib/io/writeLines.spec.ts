import { once } from 'node:events';
import fs = require('node:fs');
import { mkdtempSync, readFileSync, rmSync, WriteStream, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { from, lastValueFrom, NEVER, Observable, of, range, map, Subject, takeUntil, throwError, concat } from 'rxjs';
import { FlowGate, RivuletError, writeLines } from 'rivulet';
import { betweenMergeMaps, EndlessSource } from '../../operators/operatorCases';

/**
 * A Writable that takes each chunk a turn of the event loop later, like a slow disk or a pipe
 * nobody reads fast: its buffer fills while the source runs on.
 */
function slowWritable(highWaterMark: number) {
  const chunks: string[] = [];
  const stream = new Writable({
    highWaterMark,
    write(chunk: Buffer, _encoding, callback) {
      setImmediate(() => {
        chunks.push(chunk.toString());
        callback();
      });
    },
  });
  return { stream, chunks };
}

/** A source that stops emitting while the gate is paused, as the file and TCP sources do. */
function gatedRange(count: number, gate: FlowGate, log: boolean[]): Observable<string> {
  return new Observable<string>((subscriber) => {
    let next = 0;
    const pump = () => {
      while (next < count && !gate.paused && !subscriber.closed) subscriber.next(`line ${next++}`);
      if (next === count) subscriber.complete();
    };
    const stop = gate.onChange((paused) => {
      log.push(paused);
      if (!paused) setImmediate(pump);
    });
    pump();
    return stop;
  });
}

describe('writeLines', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rivulet-write-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes lines into a file and completes once the file is complete on disk', async () => {
    const path = join(dir, 'out.jsonl');
    const lines = Array.from({ length: 5000 }, (_, i) => JSON.stringify({ i, text: `value ${i}` }));
    await lastValueFrom(from(lines).pipe(writeLines(path)), { defaultValue: undefined });
    expect(readFileSync(path, 'utf8')).toBe(lines.join('\n') + '\n');
  });

  it("truncates by default and appends with flags 'a'", async () => {
    const path = join(dir, 'log.txt');
    writeFileSync(path, 'old\n');
    await lastValueFrom(of('a').pipe(writeLines(path, { flags: 'a' })), { defaultValue: undefined });
    expect(readFileSync(path, 'utf8')).toBe('old\na\n');
    await lastValueFrom(of('b').pipe(writeLines(path)), { defaultValue: undefined });
    expect(readFileSync(path, 'utf8')).toBe('b\n');
  });

  it('pauses the gate when a slow stream is full, resumes on drain, and loses nothing', async () => {
    const { stream, chunks } = slowWritable(64);
    const gate = new FlowGate();
    const changes: boolean[] = [];
    let completed = false;
    await new Promise<void>((resolve, reject) =>
      gatedRange(200, gate, changes)
        .pipe(writeLines(stream, { gate }))
        .subscribe({ error: reject, complete: () => ((completed = true), resolve()) }),
    );
    expect(completed).toBe(true);
    expect(chunks.join('')).toBe(Array.from({ length: 200 }, (_, i) => `line ${i}\n`).join(''));
    // Paused and resumed several times, and left flowing at the end.
    expect(changes.filter((paused) => paused).length).toBeGreaterThan(5);
    expect(changes[changes.length - 1]).toBe(false);
    expect(gate.paused).toBe(false);
    // The caller's stream is not ended.
    expect(stream.writableEnded).toBe(false);
  });

  it('completes only after the slow stream has taken every line', async () => {
    const { stream, chunks } = slowWritable(1 << 20);
    await lastValueFrom(range(0, 20).pipe(map(String), writeLines(stream)), { defaultValue: undefined });
    expect(chunks).toHaveLength(20);
  });

  it('errors with ERR_FILE naming a path that cannot be opened, and forwards a source error', async () => {
    const path = join(dir, 'no/such/dir/out.txt');
    const error = (await lastValueFrom(of('x').pipe(writeLines(path))).catch((err: unknown) => err)) as RivuletError;
    expect(error).toBeInstanceOf(RivuletError);
    expect(error.code).toBe('ERR_FILE');
    expect(error.message).toContain(path);
    const boom = new Error('boom');
    await expect(lastValueFrom(concat(of('a'), throwError(() => boom)).pipe(writeLines(join(dir, 'e.txt'))))).rejects.toBe(boom);
  });

  it('errors with ERR_FILE when the stream fails a write', async () => {
    const broken = new Writable({ write: (_chunk, _encoding, callback) => callback(new Error('disk full')) });
    const error = (await lastValueFrom(of('x').pipe(writeLines(broken, { name: 'broken' }))).catch((err: unknown) => err)) as RivuletError;
    expect(error.code).toBe('ERR_FILE');
    expect(error.message).toBe('writeLines: cannot write to broken: disk full');
  });

  it('on unsubscribe releases the gate and closes a file it opened, keeping what was written', async () => {
    const path = join(dir, 'partial.txt');
    const gate = new FlowGate();
    const source = new Subject<string>();
    // The file stream the sink opens, to wait for its 'close' (node:fs itself, not a copy of it).
    const opened: WriteStream[] = [];
    const open = fs.createWriteStream;
    const spy = jest.spyOn(fs, 'createWriteStream').mockImplementation((...args) => {
      const stream = open(...args);
      opened.push(stream);
      return stream;
    });
    try {
      const subscription = concat(source, NEVER).pipe(writeLines(path, { gate })).subscribe();
      const long = 'x'.repeat(20_000); // above the file stream's 16 KiB high-water mark
      source.next(long);
      expect(gate.paused).toBe(true);
      subscription.unsubscribe();
      expect(gate.paused).toBe(false);
      expect(opened).toHaveLength(1);
      await once(opened[0], 'close');
      expect(readFileSync(path, 'utf8')).toBe(long + '\n');
    } finally {
      spy.mockRestore();
    }
  });

  it('stops listening to a synchronous source when unsubscribed', () => {
    // The stream takes each chunk synchronously; after the third, the subscriber goes away.
    const endless = new EndlessSource((i) => `line ${i}`);
    const stop = new Subject<void>();
    const written: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        written.push(chunk.toString());
        if (written.length === 3) stop.next();
        callback();
      },
    });
    let completed = false;
    endless.source.pipe(writeLines(stream), takeUntil(stop)).subscribe({ complete: () => (completed = true) });
    expect(completed).toBe(true);
    expect(endless.pulls).toBe(3);
    expect(written).toEqual(['line 0\n', 'line 1\n', 'line 2\n']);
  });

  it('does not break unsubscription chains', () => {
    const written: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        written.push(chunk.toString());
        callback();
      },
    });
    const source = new Subject<string>();
    const subscription = source
      .pipe(betweenMergeMaps(writeLines(stream)))
      .subscribe();
    source.next('a');
    expect(source.observed).toBe(true);
    subscription.unsubscribe();
    expect(source.observed).toBe(false);
    source.next('b');
    expect(written).toEqual(['a\n']);
    expect(stream.listenerCount('drain')).toBe(0);
  });

  it('rejects bad targets at creation', () => {
    expect(() => writeLines('')).toThrow('writeLines: the path must not be empty');
    expect(() => writeLines({} as Writable)).toThrow('a path or a Writable');
  });
});

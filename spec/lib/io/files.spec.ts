import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { concat, firstValueFrom, lastValueFrom, of, Subject, take, tap, toArray } from 'rxjs';
import { FileLine, fileLines, FileProgress, FlowGate, jsonMemberFilter, RivuletError } from 'rivulet';
import { GH_ARCHIVE_HOURS, WALLAROO_DAYS } from '../../support/data';

const DAY_6 = WALLAROO_DAYS[5];
const GH_HOUR_0 = GH_ARCHIVE_HOURS[0];

/**
 * Reads `path` to its end with a stream of its own, chunk by chunk, and then lets pending I/O
 * callbacks run: a reader that ignored its gate in the meantime would have gone on with these
 * many reads of the same size, so its progress staying put shows the gate held.
 */
const readAlongside = (path: string, chunkBytes: number) =>
  new Promise<void>((resolve, reject) => {
    createReadStream(path, { highWaterMark: chunkBytes }).on('data', () => undefined).on('error', reject).on('end', () => setImmediate(resolve));
  });

describe('fileLines', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rivulet-files-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, content: string | Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  it('reads several files in the given order with 1-based line numbers per file', async () => {
    const a = write('a.txt', 'one\ntwo\n\nfour\n');
    const b = write('b.txt', 'last line without newline');
    const lines = await lastValueFrom(fileLines([b, a]).pipe(toArray()));
    expect(lines).toEqual<FileLine[]>([
      { text: 'last line without newline', source: b, lineNumber: 1 },
      { text: 'one', source: a, lineNumber: 1 },
      { text: 'two', source: a, lineNumber: 2 },
      { text: '', source: a, lineNumber: 3 },
      { text: 'four', source: a, lineNumber: 4 },
    ]);
  });

  it('joins lines split across chunks, CRLF included, and decodes multi-byte characters split between reads', async () => {
    const text = 'héllo wörld\r\n€uro\r\nnaïve 😀 end\r\n'.repeat(50);
    const path = write('split.txt', text);
    // 3-byte reads split every multi-byte character and CRLF pair somewhere.
    const lines = await lastValueFrom(fileLines(path, { chunkBytes: 3 }).pipe(toArray()));
    expect(lines.map((l) => l.text)).toEqual(text.split('\r\n').slice(0, -1));
  });

  it('strips CR from the CRLF file day_6.log and counts its 73 lines', async () => {
    const lines = await lastValueFrom(fileLines(DAY_6).pipe(toArray()));
    const expected = readFileSync(DAY_6, 'utf8').split('\r\n').slice(0, -1);
    expect(lines).toHaveLength(73);
    expect(lines.map((l) => l.text)).toEqual(expected);
    expect(lines.some((l) => l.text.includes('\r'))).toBe(false);
    expect(lines[72].lineNumber).toBe(73);
  });

  it('gunzips .gz files while streaming: the 7,702 events of GH Archive hour 0, progress up to the compressed size', async () => {
    const progress: FileProgress[] = [];
    const lines = await lastValueFrom(fileLines(GH_HOUR_0, { progress: { next: (p) => progress.push(p) } }).pipe(toArray()));
    expect(lines).toHaveLength(7702);
    const expected = gunzipSync(readFileSync(GH_HOUR_0)).toString('utf8').split('\n');
    expect(lines[0].text).toBe(expected[0]);
    expect(lines[7701].text).toBe(expected[7701]);
    expect(JSON.parse(lines[4000].text)).toEqual(JSON.parse(expected[4000]));
    const totalBytes = readFileSync(GH_HOUR_0).length;
    expect(progress.length).toBeGreaterThan(10);
    expect(progress.every((p) => p.totalBytes === totalBytes && p.source === GH_HOUR_0)).toBe(true);
    expect(progress[progress.length - 1]).toEqual({ source: GH_HOUR_0, bytesRead: totalBytes, totalBytes, linesRead: 7702, done: true });
    expect(progress.slice(0, -1).every((p) => !p.done)).toBe(true);
    // Each read moves on; the event after the last line says only how many lines there were.
    for (let i = 1; i < progress.length - 1; i++) expect(progress[i].bytesRead).toBeGreaterThan(progress[i - 1].bytesRead);
    for (let i = 1; i < progress.length; i++) expect(progress[i].linesRead).toBeGreaterThanOrEqual(progress[i - 1].linesRead);
  });

  it("counts each file's lines in its progress, skipped and unfinished ones included, the last event after the last line", async () => {
    const a = write('count-a.log', 'x\n# skipped\ny\nlast without newline');
    const b = write('count-b.log', Array.from({ length: 300 }, (_, i) => `line ${i}`).join('\n') + '\n');
    const seen: string[] = [];
    await lastValueFrom(
      fileLines([a, b], { chunkBytes: 256, endOfFile: 'EOF' as const, accept: (text) => !text.startsWith('#'), progress: { next: (p) => seen.push(`${p.source}:${p.linesRead}:${p.bytesRead}`) } }).pipe(
        tap((v) => seen.push(v === 'EOF' ? v : `line ${v.lineNumber}`)),
      ),
    );
    // Per file: the count of the event just before its marker, the marker, and that no event of the file follows it.
    const last = (file: string) => seen.filter((e) => e.startsWith(`${file}:`)).pop();
    expect(last(a)).toBe(`${a}:4:${statSync(a).size}`);
    expect(last(b)).toBe(`${b}:300:${statSync(b).size}`);
    expect(seen.indexOf(last(a)!)).toBe(seen.indexOf('EOF') - 1);
    expect(seen.lastIndexOf(last(b)!)).toBe(seen.lastIndexOf('EOF') - 1);
    // Several reads of b, each with the lines of the reads before it.
    const ofB = seen.filter((e) => e.startsWith(`${b}:`)).map((e) => Number(e.split(':').at(-2)));
    expect(ofB.length).toBeGreaterThan(5);
    expect(ofB).toEqual([...ofB].sort((x, y) => x - y));
  });

  it('counts progress lines from startAt on; an empty file has its done event only', async () => {
    const file = write('count-resume.log', 'one\ntwo\nthree\n');
    const seen: FileProgress[] = [];
    await lastValueFrom(fileLines(file, { startAt: { byteOffset: 4, lineNumber: 1 }, progress: { next: (p) => seen.push(p) } }).pipe(toArray()));
    expect(seen).toEqual([
      { source: file, bytesRead: 14, totalBytes: 14, linesRead: 1, done: false },
      { source: file, bytesRead: 14, totalBytes: 14, linesRead: 3, done: true },
    ]);
    const whole: FileProgress[] = [];
    await lastValueFrom(fileLines(file, { progress: { next: (p) => whole.push(p) } }).pipe(toArray()));
    expect(whole.map((p) => p.linesRead)).toEqual([0, 3]);
    const empty = write('count-empty.log', '');
    const none: FileProgress[] = [];
    await lastValueFrom(fileLines(empty, { progress: { next: (p) => none.push(p) } }).pipe(toArray()));
    expect(none).toEqual([{ source: empty, bytesRead: 0, totalBytes: 0, linesRead: 0, done: true }]);
  });

  it('counts the lines a byte filter skips, gives each read of a path listed twice its own count, and no done event to a failed read', async () => {
    const events = write('count-events.json', ['{"type":"WatchEvent"}', '{"type":"PushEvent"}', '{"type":"PushEvent"}', '{"type":"WatchEvent"}'].join('\n') + '\n');
    const done: string[] = [];
    const kept = await lastValueFrom(
      fileLines([events, events], { accept: jsonMemberFilter('type', new Set(['WatchEvent'])), progress: { next: (p) => p.done && done.push(`${p.source}:${p.linesRead}`) } }).pipe(toArray()),
    );
    expect(kept.map((l) => l.lineNumber)).toEqual([1, 4, 1, 4]);
    expect(done).toEqual([`${events}:4`, `${events}:4`]);
    const corrupt = write('count-corrupt.log.gz', gzipSync('one\ntwo\n').subarray(0, 12));
    const seen: FileProgress[] = [];
    await expect(lastValueFrom(fileLines(corrupt, { progress: { next: (p) => seen.push(p) } }))).rejects.toMatchObject({ code: 'ERR_FILE' });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.some((p) => p.done)).toBe(false);
  });

  it('reads concatenated gzip members and skips a byte order mark', async () => {
    const path = write('two.log.gz', Buffer.concat([gzipSync('\ufefffirst\nsecond\n'), gzipSync('third\n')]));
    const lines = await lastValueFrom(fileLines(path).pipe(toArray()));
    expect(lines.map((l) => l.text)).toEqual(['first', 'second', 'third']);
  });

  it('turns invalid UTF-8 into replacement characters, keeping the line', async () => {
    const path = write('bad.txt', Buffer.from([0x61, 0xff, 0x62, 0x0a, 0x63, 0x0a]));
    const lines = await lastValueFrom(fileLines(path).pipe(toArray()));
    expect(lines.map((l) => l.text)).toEqual(['a\ufffdb', 'c']);
  });

  it('errors with ERR_FILE naming a missing file, after the lines of the files before it', async () => {
    const a = write('a.txt', 'x\n');
    const missing = join(dir, 'missing.log');
    const seen: string[] = [];
    const error = await new Promise<unknown>((resolve) =>
      fileLines([a, missing, a]).subscribe({ next: (l) => seen.push(l.text), error: resolve, complete: () => resolve(undefined) }),
    );
    expect(seen).toEqual(['x']);
    expect(error).toBeInstanceOf(RivuletError);
    expect((error as RivuletError).code).toBe('ERR_FILE');
    expect((error as RivuletError).message).toContain(missing);
  });

  it('errors with ERR_FILE naming a corrupt gzip file', async () => {
    const good = gzipSync('a\nb\n'.repeat(1000));
    const corrupt = write('corrupt.json.gz', Buffer.concat([good.subarray(0, 20), Buffer.alloc(200, 7), good.subarray(220)]));
    const truncated = write('truncated.json.gz', good.subarray(0, good.length - 10));
    for (const path of [corrupt, truncated]) {
      const error = (await lastValueFrom(fileLines(path)).catch((err: unknown) => err)) as RivuletError;
      expect(error).toBeInstanceOf(RivuletError);
      expect(error.code).toBe('ERR_FILE');
      expect(error.message).toContain(path);
    }
  });

  it('is lazy: nothing is opened before subscription', async () => {
    const path = join(dir, 'later.txt');
    const lines$ = fileLines(path);
    write('later.txt', 'created after the observable\n');
    expect((await firstValueFrom(lines$)).text).toBe('created after the observable');
  });

  it('stops reading while the gate is paused and delivers everything after resume', async () => {
    const lineCount = 20_000;
    const path = write('big.txt', Array.from({ length: lineCount }, (_, i) => `line ${i} ${'x'.repeat(40)}`).join('\n'));
    const gate = new FlowGate();
    const holder = {};
    const progress = new Subject<FileProgress>();
    let bytesRead = 0;
    progress.subscribe((p) => (bytesRead = p.bytesRead));
    const received: number[] = [];
    const done = new Promise<void>((resolve, reject) =>
      fileLines(path, { gate, progress, chunkBytes: 16 * 1024 }).subscribe({
        next: (line) => {
          received.push(line.lineNumber);
          if (line.lineNumber === 1) gate.pause(holder);
        },
        error: reject,
        complete: resolve,
      }),
    );
    await readAlongside(path, 16 * 1024);
    const whilePaused = bytesRead;
    const receivedWhilePaused = received.length;
    await readAlongside(path, 16 * 1024);
    expect(bytesRead).toBe(whilePaused);
    expect(received.length).toBe(receivedWhilePaused);
    expect(received.length).toBeLessThan(lineCount);
    gate.resume(holder);
    await done;
    expect(received).toEqual(Array.from({ length: lineCount }, (_, i) => i + 1));
  });

  it('stops a gzip file too while the gate is paused', async () => {
    const gate = new FlowGate();
    const holder = {};
    let bytesRead = 0;
    let count = 0;
    const done = new Promise<void>((resolve, reject) =>
      fileLines(GH_HOUR_0, { gate, progress: { next: (p) => (bytesRead = p.bytesRead) } }).subscribe({
        next: () => {
          if (++count === 1) gate.pause(holder);
        },
        error: reject,
        complete: resolve,
      }),
    );
    await readAlongside(GH_HOUR_0, 64 * 1024);
    const whilePaused = bytesRead;
    await readAlongside(GH_HOUR_0, 64 * 1024);
    expect(bytesRead).toBe(whilePaused);
    expect(bytesRead).toBeLessThan(readFileSync(GH_HOUR_0).length);
    gate.resume(holder);
    await done;
    expect(count).toBe(7702);
  });

  it('closes the file on unsubscribe', async () => {
    const path = write('many.txt', 'line\n'.repeat(100_000));
    let bytesRead = 0;
    const first = await lastValueFrom(fileLines(path, { chunkBytes: 1024, progress: { next: (p) => (bytesRead = p.bytesRead) } }).pipe(take(3), toArray()));
    expect(first.map((l) => l.lineNumber)).toEqual([1, 2, 3]);
    const afterUnsubscribe = bytesRead;
    await readAlongside(path, 1024);
    expect(bytesRead).toBe(afterUnsubscribe);
    expect(bytesRead).toBeLessThan(500_000);
  });

  it('emits endOfFile after the last line of each file, an empty or gzipped one included, before the next file is read', async () => {
    const a = write('a.log', 'one\ntwo\n');
    const empty = write('empty.log', '');
    const z = write('z.log.gz', gzipSync('last, without newline'));
    const progress: string[] = [];
    const seen = await lastValueFrom(
      fileLines([a, empty, z], { endOfFile: 'EOF' as const, progress: { next: (p) => progress.push(`${p.source}:${p.bytesRead}`) } }).pipe(toArray()),
    );
    expect(seen.map((v) => (v === 'EOF' ? v : `${v.source}:${v.lineNumber}:${v.text}`))).toEqual([
      `${a}:1:one`, `${a}:2:two`, 'EOF', 'EOF', `${z}:1:last, without newline`, 'EOF',
    ]);
    // The same as the concat of each file and the marker.
    const concatenated = await lastValueFrom(concat(...[a, empty, z].map((f) => concat(fileLines(f), of('EOF' as const)))).pipe(toArray()));
    expect(seen).toEqual(concatenated);
    // Each file has been read to its end when its marker comes: the last progress of a file precedes it.
    expect(progress.filter((p) => p.startsWith(a))).toContain(`${a}:8`);
  });

  it('stops at an endOfFile the subscriber unsubscribes on: the next file is never opened', async () => {
    const a = write('a.log', 'x\n');
    const missing = join(dir, 'missing.log');
    // The missing file would error if it were opened.
    const seen = await lastValueFrom(fileLines([a, missing], { endOfFile: null }).pipe(take(2), toArray()));
    expect(seen.map((v) => (v === null ? v : v.text))).toEqual(['x', null]);
  });

  it('sends no endOfFile for a file that fails', async () => {
    const a = write('a.log', 'x\n');
    const missing = join(dir, 'missing.log');
    const seen: unknown[] = [];
    const error = await new Promise<unknown>((resolve) =>
      fileLines([a, missing], { endOfFile: 0 }).subscribe({ next: (v) => seen.push(typeof v === 'number' ? v : v.text), error: resolve }),
    );
    expect(seen).toEqual(['x', 0]);
    expect((error as RivuletError).code).toBe('ERR_FILE');
  });

  it('rejects bad options at creation', () => {
    expect(() => fileLines([''])).toThrow('fileLines: every path must be a non-empty string');
    expect(() => fileLines('x', { chunkBytes: 0 })).toThrow('chunkBytes');
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { lastValueFrom, take, toArray } from 'rxjs';
import { FileLine, fileLines, jsonMemberFilter, LineFilter, RivuletError } from 'rivulet';
import { GH_ARCHIVE_HOURS } from '../../support/data';

describe('fileLines with accept', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rivulet-accept-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, content: string | Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };
  const read = (path: string, options: Parameters<typeof fileLines>[1] = {}) => lastValueFrom(fileLines(path, options).pipe(toArray()));

  it('emits, from the bytes of a gzipped GH Archive hour, exactly the lines of the kept types, with their own line numbers', async () => {
    const filter = jsonMemberFilter('type', new Set(['WatchEvent', 'ForkEvent', 'PullRequestEvent']));
    const all = await read(GH_ARCHIVE_HOURS[0]);
    const kept = await read(GH_ARCHIVE_HOURS[0], { accept: filter });
    const expected = all.filter((l) => ['WatchEvent', 'ForkEvent', 'PullRequestEvent'].includes((JSON.parse(l.text) as { type: string }).type));
    expect(kept.length).toBeGreaterThan(1000);
    expect(kept.length).toBeLessThan(all.length / 4);
    expect(kept).toEqual(expected);
  });

  it('counts skipped lines in the line numbers with a predicate on the text', async () => {
    const path = write('a.txt', 'keep 1\nskip\r\nkeep 3\nskip\nkeep 5');
    const lines = await read(path, { accept: (text) => text.startsWith('keep') });
    expect(lines).toEqual<FileLine[]>([
      { text: 'keep 1', source: path, lineNumber: 1 },
      { text: 'keep 3', source: path, lineNumber: 3 },
      { text: 'keep 5', source: path, lineNumber: 5 },
    ]);
  });

  it('gives a byte filter the same line bytes that the text is decoded from, whatever the chunk size', async () => {
    // Multi-byte characters, CRLF, a byte order mark, bad UTF-8 and no final newline, split anywhere.
    const pieces = ['a', 'é', '€', '😀', '\r\n', '\n', '\r', '\ufeff', ' ', '"type"'].map((s) => Buffer.from(s));
    pieces.push(Buffer.from([0xff]), Buffer.from([0xe2, 0x82]), Buffer.from([0xc3]));
    const content = fc.tuple(fc.boolean(), fc.array(fc.constantFrom(...pieces), { maxLength: 60 })).map(([bom, parts]) => Buffer.concat([bom ? Buffer.from([0xef, 0xbb, 0xbf]) : Buffer.alloc(0), ...parts]));
    let file = 0;
    await fc.assert(
      fc.asyncProperty(content, fc.integer({ min: 1, max: 9 }), fc.boolean(), async (bytes, chunkBytes, gzip) => {
        const path = write(`f${file++}.txt${gzip ? '.gz' : ''}`, gzip ? gzipSync(bytes) : bytes);
        const seen: string[] = [];
        // Keeps every other line, and records what it was shown, decoded as the source would.
        const everyOther: LineFilter = {
          acceptText: () => true,
          acceptBinary: (binary, start, end) => (seen.push(Buffer.from(binary.slice(start, end), 'latin1').toString('utf8')), seen.length % 2 === 1),
        };
        const plain = await read(path, { chunkBytes });
        const filtered = await read(path, { chunkBytes, accept: everyOther });
        expect(seen).toEqual(plain.map((l) => l.text));
        expect(filtered).toEqual(plain.filter((_, i) => i % 2 === 0));
      }),
      { numRuns: 150 },
    );
  });

  it('stops reading when the subscriber unsubscribes', async () => {
    const path = write('many.txt', Array.from({ length: 10_000 }, (_, i) => `{"type":"${i % 2 ? 'odd' : 'even'}","n":${i}}`).join('\n'));
    const lines = await lastValueFrom(fileLines(path, { accept: jsonMemberFilter('type', new Set(['odd'])), chunkBytes: 100 }).pipe(take(3), toArray()));
    expect(lines.map((l) => l.lineNumber)).toEqual([2, 4, 6]);
  });

  it('rejects an accept that is neither a function nor a LineFilter', () => {
    expect(() => fileLines('x', { accept: 5 as unknown as LineFilter })).toThrow(RivuletError);
    expect(() => fileLines('x', { accept: {} as unknown as LineFilter })).toThrow('accept must be');
  });
});

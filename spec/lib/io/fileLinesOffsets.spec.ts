import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { lastValueFrom, toArray } from 'rxjs';
import { FileLine, fileLines, LineFilter, RivuletError } from 'rivulet';
import { WALLAROO_DAYS } from '../../support/data';

/** Keeps empty lines and lines that start with an even ASCII byte, deciding alike from the text and from the bytes. */
const keeps = (first: number): boolean => Number.isNaN(first) || (first < 128 && first % 2 === 0);
const evenFirstByte: LineFilter = {
  acceptText: (text) => keeps(text.charCodeAt(0)),
  acceptBinary: (bytes, start, end) => keeps(end > start ? bytes.charCodeAt(start) : NaN),
};

/** Where each line of `content` ends, from the bytes alone: just past each newline, and the file's end after an unfinished last line. */
function lineEnds(content: Buffer): number[] {
  const bom = content.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf])) ? 3 : 0;
  const ends: number[] = [];
  let from = bom;
  for (let nl = content.indexOf(10, from); nl !== -1; nl = content.indexOf(10, from)) {
    ends.push(nl + 1);
    from = nl + 1;
  }
  if (from < content.length) ends.push(content.length);
  return ends;
}

/** Bytes that exercise every way a line can be cut: multi-byte characters, CRLF, invalid UTF-8, a byte order mark. */
const contentArb = fc
  .tuple(
    fc.boolean(),
    fc.array(
      fc.oneof(
        fc.constantFrom('a', 'b', ' ', '\n', '\r\n', 'é', '€', '😀', '\n\n'),
        fc.uint8Array({ minLength: 1, maxLength: 3 }).map((b) => Buffer.from(b).toString('latin1')),
      ),
      { maxLength: 60 },
    ),
  )
  .map(([bom, parts]) => {
    const bytes = parts.map((p) => (/^[\x00-\x7f]*$/.test(p) || p.length > 1 || p.charCodeAt(0) > 0xff ? Buffer.from(p) : Buffer.from(p, 'latin1')));
    return Buffer.concat([bom ? Buffer.from([0xef, 0xbb, 0xbf]) : Buffer.alloc(0), ...bytes]);
  });

describe('fileLines with offsets', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rivulet-offsets-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const read = (path: string, options: Parameters<typeof fileLines>[1] = {}) => lastValueFrom(fileLines(path, options).pipe(toArray()));

  it('gives each line the byte offset past it, and a read started at any line end gives the lines after it', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(contentArb, fc.integer({ min: 1, max: 9 }), fc.boolean(), async (content, chunkBytes, byBytes) => {
        const path = join(dir, `f${n++}.log`);
        writeFileSync(path, content);
        const accept = byBytes ? evenFirstByte : undefined;
        const all = await read(path, { offsets: true, chunkBytes });
        expect(all.map((l) => l.endOffset)).toEqual(lineEnds(content));
        const kept = await read(path, { offsets: true, chunkBytes, accept });
        const expectedKept = byBytes ? all.filter((l) => evenFirstByte.acceptText(l.text)) : all;
        expect(kept).toEqual(expectedKept);
        for (const after of all) {
          const resumed = await read(path, { offsets: true, chunkBytes, accept, startAt: { byteOffset: after.endOffset!, lineNumber: after.lineNumber } });
          expect(resumed).toEqual(expectedKept.filter((l) => l.lineNumber > after.lineNumber));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('resumes the CRLF day_6.log in the middle with the same lines and numbers as a whole read', async () => {
    const all = await read(WALLAROO_DAYS[5], { offsets: true });
    expect(all.at(-1)!.endOffset).toBe(readFileSync(WALLAROO_DAYS[5]).length);
    const after = all[40];
    const rest = await read(WALLAROO_DAYS[5], { offsets: true, startAt: { byteOffset: after.endOffset!, lineNumber: after.lineNumber } });
    expect(rest).toEqual(all.slice(41));
  });

  it('reads only what follows the offset: the bytes before it are never looked at', async () => {
    const path = join(dir, 'a.log');
    writeFileSync(path, 'one\ntwo\nthree\n');
    // Rewritten before the offset with other lines of the same length.
    const lines = await read(path, { offsets: true });
    writeFileSync(path, 'x\ny\nzzz\nthree\n');
    const rest = await read(path, { offsets: true, startAt: { byteOffset: lines[1].endOffset!, lineNumber: 2 } });
    expect(rest).toEqual<FileLine[]>([{ text: 'three', source: path, lineNumber: 3, endOffset: 14 }]);
  });

  it('gives no offsets in a compressed file, and refuses to start one in the middle', async () => {
    const path = join(dir, 'a.log.gz');
    writeFileSync(path, require('node:zlib').gzipSync('a\nb\n'));
    expect((await read(path, { offsets: true })).map((l) => l.endOffset)).toEqual([undefined, undefined]);
    expect(() => fileLines(path, { startAt: { byteOffset: 2, lineNumber: 1 } })).toThrow(RivuletError);
    expect(() => fileLines(path, { startAt: { byteOffset: 2, lineNumber: 1 } })).toThrow(/a.log.gz is compressed/);
    expect(() => fileLines(join(dir, 'b.log'), { startAt: { byteOffset: -1, lineNumber: 0 } })).toThrow(/integers >= 0/);
  });
});

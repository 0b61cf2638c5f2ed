import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { lastValueFrom, toArray } from 'rxjs';
import { FilePosition, FlowGate, positionedFileLines } from 'rivulet';

describe('positionedFileLines', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rivulet-positioned-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, content: string | Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };
  const readAfter = <M>(source: ReturnType<typeof positionedFileLines<M>>, after?: FilePosition) => lastValueFrom(source.open(after, new FlowGate()).pipe(toArray()));
  const texts = (values: { value: unknown }[]) => values.map(({ value }) => (typeof value === 'string' ? value : (value as { text: string }).text));

  it('positions plain lines by file, line and byte offset, and the end-of-file marker at the next file', async () => {
    const a = write('a.log', 'one\ntwo\n');
    const b = write('b.log', 'três');
    const read = await readAfter(positionedFileLines([a, b], { endOfFile: 'EOF' }));
    expect(read.map((r) => r.position)).toEqual<FilePosition[]>([
      { file: 0, line: 1, offset: 4 },
      { file: 0, line: 2, offset: 8 },
      { file: 1, line: 0 },
      { file: 1, line: 1, offset: 5 },
      { file: 2, line: 0 },
    ]);
    expect(texts(read)).toEqual(['one', 'two', 'EOF', 'três', 'EOF']);
  });

  it('resumes a plain file from its offset: the part before it is not read again', async () => {
    const a = write('a.log', 'one\ntwo\nthree\nfour\n');
    const source = positionedFileLines([a]);
    const first = await readAfter(source);
    // The lines before the position, rewritten with a different number of lines of the same
    // bytes: a resume that counted lines again would start at the wrong one.
    writeFileSync(a, 'o\nn\ntwo\nthree\nfour\n');
    const resumed = await readAfter(source, first[1].position);
    expect(texts(resumed)).toEqual(['three', 'four']);
    expect(resumed.map((r) => r.position)).toEqual(first.slice(2).map((r) => r.position));
  });

  it('refuses to resume a plain file that no longer has a line end at the offset', async () => {
    const a = write('a.log', 'one\ntwo\nthree\n');
    const source = positionedFileLines([a]);
    const first = await readAfter(source);
    truncateSync(a, 6);
    await expect(readAfter(source, first[1].position)).rejects.toMatchObject({ code: 'ERR_CHECKPOINT_INCOMPATIBLE', message: expect.stringContaining(`${a} has changed since the checkpoint`) });
    writeFileSync(a, 'one\ntwo,three\n');
    await expect(readAfter(source, first[1].position)).rejects.toMatchObject({ code: 'ERR_CHECKPOINT_INCOMPATIBLE' });
  });

  it('resumes after a last line without a line ending, at the end of its file', async () => {
    const a = write('a.log', 'one\ntwo');
    const b = write('b.log', 'next\n');
    const source = positionedFileLines([a, b]);
    const first = await readAfter(source);
    expect(first[1].position).toEqual({ file: 0, line: 2, offset: 7 });
    expect(texts(await readAfter(source, first[1].position))).toEqual(['next']);
  });

  it('resumes a compressed file, and a position without an offset, by reading again and skipping lines', async () => {
    const gz = write('a.log.gz', gzipSync('one\ntwo\nthree\n'));
    const plain = write('b.log', 'four\nfive\n');
    const source = positionedFileLines([gz, plain]);
    const first = await readAfter(source);
    expect(first[1].position).toEqual({ file: 0, line: 2, offset: undefined });
    expect(texts(await readAfter(source, first[1].position))).toEqual(['three', 'four', 'five']);
    // As positions were before they carried offsets.
    expect(texts(await readAfter(source, { file: 1, line: 1 }))).toEqual(['five']);
    // A byte offset is a plain file's: one given for a compressed file does not belong to it.
    expect(() => source.open({ file: 0, line: 2, offset: 8 }, new FlowGate())).toThrow(expect.objectContaining({ code: 'ERR_CHECKPOINT_INCOMPATIBLE', message: expect.stringContaining(gz) }));
  });

  it('resumed after any position of a run over several files, markers and a gzip file among them, reads exactly the rest of that run', async () => {
    const files = [
      write('a.log', 'a1\na2\n'),
      write('b.log.gz', gzipSync('b1\nb2\nb3')),
      write('empty.log', ''),
      write('c.log', 'c1\r\nc2\n'),
    ];
    const source = positionedFileLines(files, { endOfFile: 'EOF' });
    const whole = await readAfter(source);
    expect(texts(whole)).toEqual(['a1', 'a2', 'EOF', 'b1', 'b2', 'b3', 'EOF', 'EOF', 'c1', 'c2', 'EOF']);
    for (let i = 0; i < whole.length; i++) {
      const rest = await readAfter(source, whole[i].position);
      expect({ after: i, rest }).toEqual({ after: i, rest: whole.slice(i + 1) });
    }
  });
});

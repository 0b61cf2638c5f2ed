import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { delay, EMPTY, filter, lastValueFrom, map, merge, Observable, OperatorFunction, Subject, tap, toArray } from 'rxjs';
import { directoryStore, fileOutput, FileLine, joinScope, positionedFileLines, RivuletError, runCheckpointed, RunEvent } from 'rivulet';

/** Running count of each word, scoped under `uid`: a minimal stateful operator for the runner. */
function countWords(uid: string | undefined, fingerprint = 'v1'): OperatorFunction<FileLine, string> {
  return (source) =>
    new Observable<string>((subscriber) => {
      let counts = new Map<string, number>();
      const leave = joinScope('countWords', uid, () => ({
        kind: 'countWords',
        version: 1,
        fingerprint,
        snapshot: () => counts,
        restore: (state) => (counts = state as Map<string, number>),
      }));
      const subscription = source.subscribe({
        next(line) {
          const n = (counts.get(line.text) ?? 0) + 1;
          counts.set(line.text, n);
          if (line.text === 'poison') return subscriber.error(new Error('cannot count poison'));
          subscriber.next(`${line.text}=${n}`);
        },
        error: (e) => subscriber.error(e),
        complete: () => {
          subscriber.next(`distinct=${counts.size}`);
          subscriber.complete();
        },
      });
      return () => {
        leave();
        subscription.unsubscribe();
      };
    });
}

const WORDS = ['a', 'b', 'a', 'c', 'b', 'a', 'd', 'e', 'a', 'f', 'b', 'g', 'a', 'h'];

describe('runCheckpointed', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rivulet-runner-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function inputs(words: string[][]): string[] {
    return words.map((lines, i) => {
      const path = join(dir, `in-${i}.txt`);
      writeFileSync(path, lines.map((l) => `${l}\n`).join(''));
      return path;
    });
  }

  function run(paths: string[], out: string, ckpt: string, extra: Partial<Parameters<typeof runCheckpointed<FileLine, string, unknown, unknown>>[0]> = {}): Promise<RunEvent[]> {
    return lastValueFrom(
      runCheckpointed({
        job: 'words',
        source: positionedFileLines(paths),
        pipeline: countWords('counts'),
        sink: fileOutput(out),
        store: directoryStore(ckpt),
        every: { values: 3 },
        ...extra,
      } as Parameters<typeof runCheckpointed>[0]).pipe(toArray()),
    );
  }

  it('writes what an uninterrupted pipeline writes, checkpointing every 3 values, then marks the run completed', async () => {
    const paths = inputs([WORDS.slice(0, 7), WORDS.slice(7)]);
    const out = join(dir, 'out.txt');
    const events = await run(paths, out, join(dir, 'ckpt'));
    const expected = `${naiveCounts(WORDS).join('\n')}\n`;
    expect(readFileSync(out, 'utf8')).toBe(expected);
    expect(events.filter((e) => e.type === 'checkpoint').map((e) => (e as { values: number }).values)).toEqual([3, 6, 9, 12]);
    expect(events[events.length - 1]).toEqual({ type: 'completed', values: WORDS.length });
    // The two newest checkpoints are kept.
    expect(readdirSync(join(dir, 'ckpt')).filter((n) => n.endsWith('.ckpt'))).toEqual(['checkpoint-000003.ckpt', 'checkpoint-000004.ckpt']);

    const again = await run(paths, out, join(dir, 'ckpt'));
    expect(again).toEqual([{ type: 'already-completed', values: WORDS.length }]);
    expect(readFileSync(out, 'utf8')).toBe(expected);
  });

  it('feeds a pipeline that reads its input twice, and one that never reads it', async () => {
    const paths = inputs([WORDS]);
    const twice: OperatorFunction<FileLine, string> = (lines) =>
      merge(lines.pipe(filter((l) => l.text === 'a'), map((l) => `first ${l.lineNumber}`)), lines.pipe(filter((l) => l.text !== 'a'), map((l) => `second ${l.lineNumber}`)));
    const out = join(dir, 'twice.txt');
    await run(paths, out, join(dir, 'ckpt-twice'), { pipeline: twice });
    const expected = WORDS.map((w, i) => `${w === 'a' ? 'first' : 'second'} ${i + 1}\n`).join('');
    expect(readFileSync(out, 'utf8')).toBe(expected);
    const events = await run(paths, join(dir, 'never.txt'), join(dir, 'ckpt-never'), { pipeline: () => EMPTY });
    expect(events[events.length - 1]).toEqual({ type: 'completed', values: WORDS.length });
    expect(readFileSync(join(dir, 'never.txt'), 'utf8')).toBe('');
  });

  it('after a stop, a rerun resumes from the final checkpoint and the output is byte-identical', async () => {
    const paths = inputs([WORDS.slice(0, 5), WORDS.slice(5)]);
    const out = join(dir, 'out.txt');
    const stop$ = new Subject<void>();
    let seen = 0;
    // Asked to stop while the 6th value is being processed: the stop waits for it to finish.
    const stopping: OperatorFunction<FileLine, string> = (s) => s.pipe(tap(() => ++seen === 6 && stop$.next()), countWords('counts'));
    const events = await lastValueFrom(
      runCheckpointed({
        job: 'words', source: positionedFileLines(paths), pipeline: stopping, sink: fileOutput(out),
        store: directoryStore(join(dir, 'ckpt')), every: { values: 4 }, stop$,
      }).pipe(toArray()),
    );
    const stopped = events.find((e) => e.type === 'stopped') as { values: number };
    expect(events.map((e) => e.type)).toEqual(['checkpoint', 'checkpoint', 'stopped']);
    expect(stopped).toEqual({ type: 'stopped', seq: 2, values: 6 });
    expect(readFileSync(out, 'utf8')).toBe(`${naiveCounts(WORDS).slice(0, 6).join('\n')}\n`);
    const resumed = await run(paths, out, join(dir, 'ckpt'));
    expect(resumed[0]).toMatchObject({ type: 'resumed', values: stopped.values });
    expect(readFileSync(out, 'utf8')).toBe(`${naiveCounts(WORDS).join('\n')}\n`);
  });

  it('falls back to the previous checkpoint when the latest is corrupt', async () => {
    const paths = inputs([WORDS]);
    const out = join(dir, 'out.txt');
    const ckpt = join(dir, 'ckpt');
    await run(paths, out, ckpt);
    rmSync(join(ckpt, 'completed.json'));
    const latest = join(ckpt, 'checkpoint-000004.ckpt');
    const bytes = readFileSync(latest);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(latest, bytes);
    const events = await run(paths, out, ckpt);
    expect(events[0]).toMatchObject({ type: 'corrupt' });
    expect((events[0] as { message: string }).message).toMatch(/checkpoint-000004\.ckpt: corrupt checkpoint: checksum mismatch/);
    expect(events[1]).toMatchObject({ type: 'resumed', seq: 3, values: 9 });
    expect(readFileSync(out, 'utf8')).toBe(`${naiveCounts(WORDS).join('\n')}\n`);
  });

  it('refuses a checkpoint taken with other options, another uid or another job', async () => {
    const paths = inputs([WORDS]);
    const out = join(dir, 'out.txt');
    const ckpt = join(dir, 'ckpt');
    const stop$ = new Subject<void>();
    let seen = 0;
    const stopping: OperatorFunction<FileLine, string> = (s) => s.pipe(tap(() => ++seen === 3 && stop$.next()), countWords('counts'));
    await lastValueFrom(
      runCheckpointed({ job: 'words', source: positionedFileLines(paths), pipeline: stopping, sink: fileOutput(out), store: directoryStore(ckpt), stop$ }),
    );
    const attempt = (extra: object) => run(paths, out, ckpt, extra).then(() => undefined, (e: RivuletError) => e);
    await expect(attempt({ pipeline: countWords('counts', 'v2') })).resolves.toMatchObject({
      code: 'ERR_CHECKPOINT_INCOMPATIBLE',
      message: expect.stringMatching(/"counts" does not fit the countWords with that uid: it was taken with options v1, the pipeline has v2/),
    });
    await expect(attempt({ pipeline: countWords('renamed') })).resolves.toMatchObject({
      code: 'ERR_CHECKPOINT_INCOMPATIBLE',
      message: expect.stringMatching(/holds state for "counts", but the pipeline has no operator with that uid/),
    });
    await expect(attempt({ job: 'other' })).resolves.toMatchObject({ code: 'ERR_CHECKPOINT_INCOMPATIBLE', message: expect.stringMatching(/made by another job \(words\)/) });
  });

  it('refuses at start a stateful operator without a uid, and an asynchronous pipeline when it emits late', async () => {
    const paths = inputs([WORDS]);
    const out = join(dir, 'out.txt');
    await expect(run(paths, out, join(dir, 'c1'), { pipeline: countWords(undefined) })).rejects.toMatchObject({
      code: 'ERR_NOT_CHECKPOINTABLE',
      message: expect.stringMatching(/countWords: a stateful operator needs a uid/),
    });
    const late: OperatorFunction<FileLine, string> = (s) => s.pipe(countWords('counts'), delay(0));
    await expect(run(paths, out, join(dir, 'c2'), { pipeline: late })).rejects.toMatchObject({
      code: 'ERR_NOT_CHECKPOINTABLE',
      message: expect.stringMatching(/emitted between two source values/),
    });
  });

  it('retries a value that keeps failing a bounded number of times, then dead-letters it and goes on', async () => {
    const words = ['a', 'b', 'poison', 'a', 'c'];
    const paths = inputs([words]);
    const out = join(dir, 'out.txt');
    const ckpt = join(dir, 'ckpt');
    const events = await run(paths, out, ckpt, { every: { values: 1 }, maxAttempts: 2 });
    expect(events.filter((e) => e.type === 'failure').map((e) => (e as { attempts: number }).attempts)).toEqual([1, 2]);
    expect(events.find((e) => e.type === 'dead-letter')).toMatchObject({ position: `${paths[0]}:3`, error: 'cannot count poison' });
    const dead = readFileSync(join(ckpt, 'dead-letters.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(dead).toEqual([{ position: `${paths[0]}:3`, attempts: 2, error: 'cannot count poison', value: { text: 'poison', source: paths[0], lineNumber: 3 } }]);
    expect(readFileSync(out, 'utf8')).toBe(`${naiveCounts(['a', 'b', 'a', 'c']).join('\n')}\n`);
  });

  it('fails instead when told to, with the pipeline error, after the bounded retries', async () => {
    const paths = inputs([['a', 'poison']]);
    const events: RunEvent[] = [];
    const error = await lastValueFrom(
      runCheckpointed({ job: 'words', source: positionedFileLines(paths), pipeline: countWords('counts'), sink: fileOutput(join(dir, 'o')), store: directoryStore(join(dir, 'c')), maxAttempts: 2, onPoison: 'fail' })
        .pipe(map((e) => events.push(e))),
    ).then(() => undefined, (e: Error) => e);
    expect(error?.message).toBe('cannot count poison');
    expect(events.map((e) => e.type)).toEqual(['failure', 'failure']);
  });

  it('names a directory it cannot create', async () => {
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'x');
    await expect(run(inputs([WORDS]), join(dir, 'out'), join(file, 'ckpt'))).rejects.toMatchObject({
      code: 'ERR_CHECKPOINT_STORE',
      message: `checkpoint directory ${join(file, 'ckpt')}: cannot create it: ENOTDIR`,
    });
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });
});

/** The expected output, computed without rivulet. */
function naiveCounts(words: string[]): string[] {
  const seen = new Map<string, number>();
  const lines = words.map((w) => {
    seen.set(w, (seen.get(w) ?? 0) + 1);
    return `${w}=${seen.get(w)}`;
  });
  return [...lines, `distinct=${seen.size}`];
}

import { PassThrough } from 'node:stream';
import { buildProgram } from '../../demos/cli';

export interface CliRun {
  /** Resolves with everything the command printed once it has finished. */
  done: Promise<{ stdout: string; stderr: string }>;
  /** Resolves with stderr's first line that matches. */
  stderrLine(pattern: RegExp): Promise<RegExpExecArray>;
  /** Asks the command to stop, as Ctrl+C would. */
  stop(): void;
}

/** Runs `rivulet ARGS...` in this process with captured output. */
export function runCli(args: string[]): CliRun {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const waiters: Array<() => void> = [];
  stderr.on('data', (c: Buffer) => {
    err += c.toString('utf8');
    for (const w of waiters.splice(0)) w();
  });
  let stop: () => void = () => undefined;
  const stopRequested = new Promise<void>((resolve) => (stop = resolve));
  const program = buildProgram({ stdout, stderr, stopRequested, interactive: false });
  program.exitOverride();
  const done = program.parseAsync(['node', 'rivulet', ...args]).then(() => ({ stdout: out, stderr: err }));
  const stderrLine = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const m = pattern.exec(err);
        if (m) resolve(m);
        else waiters.push(check);
      };
      done.catch(reject);
      check();
    });
  return { done, stderrLine, stop };
}

/** The JSON values of every non-empty line. */
export function jsonLines(text: string): unknown[] {
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as unknown);
}

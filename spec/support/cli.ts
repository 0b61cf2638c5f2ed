import { PassThrough } from 'node:stream';
import type { SchedulerLike } from 'rxjs';
import { buildProgram, runRivulet } from '../../demos/cli';

export interface CliRun {
  /** Resolves with everything the command printed once it has finished. */
  done: Promise<{ stdout: string; stderr: string }>;
  /** Resolves with stderr's first line that matches. */
  stderrLine(pattern: RegExp): Promise<RegExpExecArray>;
  /** Resolves with the first match of `pattern` in what has been printed on stdout so far. */
  stdoutLine(pattern: RegExp): Promise<RegExpExecArray>;
  /** Asks the command to stop, as Ctrl+C would. */
  stop(): void;
}

const running = new Set<CliRun>();

/**
 * Runs `rivulet ARGS...` in this process with captured output. The run stays registered until it
 * has finished, so that `stopCliRuns` (in an afterEach) can end what a failed test left running.
 * `scheduler` is the clock of the command's rate limits (a `VirtualTimeScheduler` freezes it).
 */
export function runCli(args: string[], options: { scheduler?: SchedulerLike } = {}): CliRun {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  const outWaiters: Array<() => void> = [];
  stdout.on('data', (c: Buffer) => {
    out += c.toString('utf8');
    for (const w of outWaiters.splice(0)) w();
  });
  const waiters: Array<() => void> = [];
  stderr.on('data', (c: Buffer) => {
    err += c.toString('utf8');
    for (const w of waiters.splice(0)) w();
  });
  let stop: () => void = () => undefined;
  const stopRequested = new Promise<void>((resolve) => (stop = resolve));
  const program = buildProgram({ stdout, stderr, stopRequested, interactive: false, scheduler: options.scheduler });
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
  const stdoutLine = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const m = pattern.exec(out);
        if (m) resolve(m);
        else outWaiters.push(check);
      };
      done.catch(reject);
      check();
    });
  const run: CliRun = { done, stderrLine, stdoutLine, stop };
  running.add(run);
  const forget = () => running.delete(run);
  done.then(forget, forget);
  return run;
}

/**
 * Stops every command still running, as Ctrl+C would, and waits until each has finished (its
 * outcome is the test's business, not the cleanup's). A listening command that a failed step left
 * behind would otherwise keep its server open, and jest would never exit.
 */
export async function stopCliRuns(): Promise<void> {
  const runs = [...running];
  for (const run of runs) run.stop();
  await Promise.allSettled(runs.map((run) => run.done));
}

/** The JSON values of every non-empty line. */
export function jsonLines(text: string): unknown[] {
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as unknown);
}

/**
 * Runs `rivulet ARGS...` in this process as the real CLI does (errors written as `rivulet: ...`
 * lines, not thrown) and resolves with its exit code and output. For commands that end by themselves.
 */
export async function runCliExit(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const code = await runRivulet(['node', 'rivulet', ...args], { stdout, stderr, stopRequested: new Promise<void>(() => undefined), interactive: false });
  return { code, stdout: out, stderr: err };
}

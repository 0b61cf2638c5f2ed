import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';

/** The built CLI (`npm test` builds it first), run as a user would run it. */
export const RIVULET_BIN = join(__dirname, '..', '..', 'bin', 'rivulet.js');

export interface ChildRun {
  readonly child: ChildProcess;
  /** Resolves when the process has exited, with its code or signal and what it wrote (stdout only if captured). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string }>;
  /** Resolves with the first match of `pattern` in stderr so far; rejects if the process exits first. */
  stderrMatch(pattern: RegExp): Promise<RegExpExecArray>;
  /** Resolves with stdout once `ready` is true of it (needs `captureStdout`); rejects if the process exits first. */
  stdoutWhen(ready: (stdout: string) => boolean): Promise<string>;
}

const running = new Set<ChildProcess>();

/** Starts `rivulet ARGS...` in a child process; {@link killChildren} ends any still running. */
export function spawnRivulet(args: readonly string[], options: { captureStdout?: boolean } = {}): ChildRun {
  const child = spawn(process.execPath, [RIVULET_BIN, ...args], { stdio: ['ignore', options.captureStdout === true ? 'pipe' : 'ignore', 'pipe'] });
  running.add(child);
  let stderr = '';
  let stdout = '';
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
    wake();
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    wake();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string }>((resolve) =>
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal, stderr, stdout });
      wake();
    }),
  );
  let hasExited = false;
  void exited.then(() => (hasExited = true));
  const when = <T>(test: () => T | undefined, what: string) =>
    new Promise<T>((resolve, reject) => {
      const check = () => {
        const result = test();
        if (result !== undefined) {
          waiters.delete(check);
          resolve(result);
        } else if (hasExited || child.exitCode !== null || child.signalCode !== null) {
          waiters.delete(check);
          reject(new Error(`rivulet exited before ${what}; stderr: ${stderr}`));
        }
      };
      waiters.add(check);
      check();
    });
  return {
    child,
    exited,
    stderrMatch: (pattern) => when(() => pattern.exec(stderr) ?? undefined, `stderr matched ${String(pattern)}`),
    stdoutWhen: (ready) => when(() => (ready(stdout) ? stdout : undefined), 'stdout was ready'),
  };
}

/** For afterEach/finally: kills every child still running and waits for them to exit. */
export async function killChildren(): Promise<void> {
  const left = [...running];
  await Promise.all(left.map((child) => new Promise<void>((resolve) => {
    child.once('close', () => resolve());
    child.kill('SIGKILL');
  })));
}

/**
 * Runs `args` (a checkpointed command) once per delay in `killAfterMs`, killing it with SIGKILL
 * after that long, then once more to completion. Returns how many runs the kills cut short and
 * what the last run printed on stderr, without its resume notices.
 */
export async function killAndResume(args: readonly string[], killAfterMs: readonly number[]): Promise<{ killed: number; code: number | null; stderr: string }> {
  let killed = 0;
  for (const delay of killAfterMs) {
    const run = spawnRivulet(args);
    const timer = setTimeout(() => run.child.kill('SIGKILL'), delay);
    const { signal } = await run.exited;
    clearTimeout(timer);
    if (signal === 'SIGKILL') killed++;
  }
  const { code, stderr } = await spawnRivulet(args).exited;
  return { killed, code, stderr: stderr.replace(/^[a-z-]+: (resuming from checkpoint|this run already completed).*\n/gm, '') };
}

export interface KillSchedule {
  /** The command without its checkpoint and output flags. */
  args: readonly string[];
  /** Where each trial keeps its checkpoint directory and output file. */
  dir: string;
  /** The output of an uninterrupted run, byte for byte. */
  expected: Buffer;
  /** `--checkpoint-every`: small, so that kills land between checkpoints. */
  every: number;
  /** Range of the kill delays, in ms after start. */
  killMs: { min: number; max: number };
  numRuns: number;
  seed: number;
}

/**
 * The recovery property: for schedules of 1 to 3 SIGKILLs that fast-check picks, killed runs
 * resumed to completion leave the output file byte-identical to an uninterrupted run's. Fails if
 * no kill at all cut a run short (the property would then prove nothing).
 */
export async function checkRecovery(schedule: KillSchedule): Promise<void> {
  const { args, dir, expected, every, killMs, numRuns, seed } = schedule;
  let trial = 0;
  let killed = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer(killMs), { minLength: 1, maxLength: 3 }), async (killAfterMs) => {
      const at = join(dir, `trial-${++trial}`);
      const out = join(at, 'out.jsonl');
      const result = await killAndResume([...args, '--checkpoint', join(at, 'ckpt'), '--output', out, '--checkpoint-every', String(every)], killAfterMs);
      killed += result.killed;
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
      expect(readFileSync(out).equals(expected)).toBe(true);
    }),
    { numRuns, seed },
  );
  expect(killed).toBeGreaterThan(0);
}

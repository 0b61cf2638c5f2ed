import { PassThrough } from 'node:stream';
import { buildProgram } from '../../demos/cli';

export interface TerminalRun {
  done: Promise<void>;
  /** Every line the progress bar drew on the terminal, in order (cursor moves and clears removed). */
  frames(prefix: string): string[];
  stdout(): string;
}

/**
 * Runs `rivulet ARGS...` in this process as if stderr were a terminal 200 columns wide, so that
 * progress bars draw; what they draw is kept, one frame per redraw.
 */
export function runOnTerminal(args: string[]): TerminalRun {
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), { isTTY: true, columns: 200 });
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const program = buildProgram({ stdout, stderr, stopRequested: new Promise<void>(() => undefined), interactive: true });
  program.exitOverride();
  const done = program.parseAsync(['node', 'rivulet', ...args]).then(() => undefined);
  return {
    done,
    // ESC [ ... letter (cursor moves, clears) and ESC 7 / ESC 8 (save and restore the cursor).
    frames: (prefix) => err.split(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]|\r|\n/).filter((part) => part.startsWith(prefix)),
    stdout: () => out,
  };
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Command } from 'commander';
import { registerLogCounts } from '../demos/logCountsCli';
import { registerStarLeaders } from '../demos/starLeadersCli';
import { packageRoot } from './packageRoot';

/** Where a command writes, and how it learns that the user wants it to stop. */
export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM for the real CLI). */
  stopRequested: Promise<void>;
  /** Whether stderr is a terminal (progress bars only then). */
  interactive: boolean;
}

/** Builds the `rivulet` command line; each application adds its own subcommands. */
export function buildProgram(io: CliIo): Command {
  const version = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  const program = new Command('rivulet')
    .description('Stateful stream processing on RxJS: run the bundled applications and tools.')
    .version(version)
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  registerLogCounts(program, io);
  registerStarLeaders(program, io);
  return program;
}

/** Runs the CLI in this process, on its standard streams and signals. */
export async function main(argv: string[]): Promise<void> {
  let stop: () => void = () => undefined;
  const stopRequested = new Promise<void>((resolve) => (stop = resolve));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const io: CliIo = { stdout: process.stdout, stderr: process.stderr, stopRequested, interactive: process.stderr.isTTY === true };
  try {
    await buildProgram(io).parseAsync(argv);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerLogCounts } from './logCounts/cli';
import { registerStarLeaders } from './starLeaders/cli';
import { registerDistributedStarLeaders } from './starLeaders/distributed';
import type { CliIo } from './cliIo';
import { packageRoot } from './packageRoot';

/** Builds the `rivulet` command line; each application adds its own subcommands. */
export function buildProgram(io: CliIo): Command {
  const version = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  const program = new Command('rivulet')
    .description('Stateful stream processing on RxJS: run the bundled applications and tools.')
    .version(version)
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  registerLogCounts(program, io);
  registerStarLeaders(program, io);
  registerDistributedStarLeaders(program, io);
  return program;
}

/** Runs the CLI in this process, on its standard streams and signals. */
export async function main(argv: string[]): Promise<void> {
  let signal: NodeJS.Signals | undefined;
  let stop: () => void = () => undefined;
  const stopRequested = new Promise<void>((resolve) => (stop = resolve));
  // Once only: a second signal finds no listener and ends the process at once, as it should.
  const onSignal = (received: NodeJS.Signals): void => {
    signal ??= received;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    stop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const io: CliIo = { stdout: process.stdout, stderr: process.stderr, stopRequested, interactive: process.stderr.isTTY === true };
  try {
    await buildProgram(io).parseAsync(argv);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  // A run cut short by a signal did not finish its work: say so to the shell (128 + signal number),
  // unless the command set its own code (a worker, for which the signal is the normal end).
  if (signal !== undefined && process.exitCode === undefined) process.exitCode = signal === 'SIGINT' ? 130 : 143;
}

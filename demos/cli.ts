import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, CommandUnknownOpts } from '@commander-js/extra-typings';
import { registerLogCounts } from './logCounts/cli';
import { registerStarLeaders } from './starLeaders/cli';
import { registerDistributedStarLeaders } from './starLeaders/distributed';
import type { CliIo } from './cliIo';
import { CommandContext, commanderMessage, describeError } from './cliErrors';
import { packageRoot } from './packageRoot';

/** Builds the `rivulet` command line; each application adds its own subcommands. */
export function buildProgram(io: CliIo): Command {
  const version = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  const program = new Command('rivulet')
    .description('Stateful stream processing on RxJS: run the bundled applications and tools.')
    .version(version)
    // Set before the subcommands are added, which inherit both: commander's own errors end the
    // command instead of the process, and are written by runRivulet in the words of every other.
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s), outputError: () => undefined });
  registerLogCounts(program, io);
  registerStarLeaders(program, io);
  registerDistributedStarLeaders(program, io);
  return program;
}

/**
 * Runs `rivulet ARGV...` (argv as `process.argv`: node, script, then the arguments) on `io` and
 * resolves with its exit code: 0, or 1 after one line `rivulet: ...` on stderr saying what was
 * wrong (commander's own errors included; `--help` and `--version` exit 0).
 */
export async function runRivulet(argv: string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help (also shown for a group such as `rivulet route` alone) has been written already.
      if (error.exitCode !== 0 && error.code !== 'commander.help') io.stderr.write(`rivulet: ${commanderMessage(error.message, commandOf(program, argv.slice(2)))}\n`);
      return error.exitCode;
    }
    // A reader that went away (`rivulet ... | head`) is not an error worth reporting.
    if ((error as { cause?: { code?: unknown } } | undefined)?.cause?.code === 'EPIPE') return 0;
    io.stderr.write(`rivulet: ${describeError(error)}\n`);
    return 1;
  }
}

/** The subcommand that `args` name (`route star-leaders --redis ...`), for messages about its arguments. */
function commandOf(program: CommandUnknownOpts, args: readonly string[]): CommandContext {
  let command = program;
  const path: string[] = [];
  for (const arg of args) {
    const sub = command.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (sub !== undefined) {
      command = sub;
      path.push(arg);
    } else if (!arg.startsWith('-')) break;
  }
  return { path: path.join(' '), arguments: command.registeredArguments };
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
  let code: number;
  try {
    code = await runRivulet(argv, io);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (code !== 0) process.exitCode = code;
  // A run cut short by a signal did not finish its work: say so to the shell (128 + signal number),
  // unless the command set its own code (a worker, for which the signal is the normal end).
  else if (signal !== undefined && process.exitCode === undefined) process.exitCode = signal === 'SIGINT' ? 130 : 143;
}

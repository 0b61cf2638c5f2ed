/*
 * Parsers of flag values and arguments, run by commander as it reads the command line: a bad
 * value stops the command before anything is opened, with a message that names the flag (or the
 * file) once, in the style of cliErrors.ts. Each parser is made for its flag: `duration('--max-future')`.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { Option } from '@commander-js/extra-typings';
import { parseDuration, parseRedisTarget, parseSocketAddress, SocketAddress } from '../index';
import { checkpointInterval } from './checkpointing';
import { CliError, got } from './cliErrors';

type Parser<T> = (text: string) => T;

function address(flag: string, text: string, minPort: number): SocketAddress {
  let parsed: SocketAddress;
  try {
    parsed = parseSocketAddress(text);
  } catch {
    throw new CliError(`${flag}: expected HOST:PORT, ${got(text)}`);
  }
  if (parsed.port < minPort) throw new CliError(`${flag}: expected HOST:PORT with a port from ${minPort} to 65535, ${got(text)}`);
  return parsed;
}

/** An address to listen on, `HOST:PORT` (port 0: any free port). */
export const listenAddress = (flag: string): Parser<SocketAddress> => (text) => address(flag, text, 0);

/** An address to connect to, `HOST:PORT` with a real port. */
export const peerAddress = (flag: string): Parser<SocketAddress> => (text) => address(flag, text, 1);

/** A duration in milliseconds, written with its unit: `250ms`, `30s`, `5m`, `1h`, `2d`. */
export const duration = (flag: string): Parser<number> => (text) => {
  try {
    return parseDuration(text);
  } catch {
    throw new CliError(`${flag}: expected a duration such as 250ms, 30s, 5m, 1h or 2d, ${got(text)}`);
  }
};

/** Milliseconds as a duration flag would be written: `5s`, `100ms`, `1d`. */
export function durationText(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

export const positiveInteger = (flag: string): Parser<number> => (text) => {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < 1) throw new CliError(`${flag}: expected an integer >= 1, ${got(text)}`);
  return n;
};

export const positiveNumber = (flag: string): Parser<number> => (text) => {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0) throw new CliError(`${flag}: expected a number > 0, ${got(text)}`);
  return n;
};

/** An IANA time zone, as the runtime knows it. */
export const timeZone = (flag: string): Parser<string> => (text) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: text });
  } catch {
    throw new CliError(`${flag}: expected an IANA time zone such as America/Los_Angeles or UTC, ${got(text)}`);
  }
  return text;
};

export const webSocketUrl = (flag: string): Parser<string> => (text) => {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'ws:' && url.protocol !== 'wss:')) throw new CliError(`${flag}: expected a ws:// or wss:// URL, ${got(text)}`);
  return text;
};

/** `--checkpoint-every`: kept as written (the runner reads it), checked now. */
export const checkpointEvery = (flag: string): Parser<string> => (text) => {
  try {
    checkpointInterval(text);
  } catch {
    throw new CliError(`${flag}: expected a duration such as 1s or a count of input values such as 100000, ${got(text)}`);
  }
  return text;
};

/** A file the command will write (its folder may not exist yet: checkpointed runs make it). */
export const outputFile = (flag: string): Parser<string> => (text) => {
  if (text === '') throw new CliError(`${flag}: expected a file name, ${got(text)}`);
  let isFolder = false;
  try {
    isFolder = statSync(text).isDirectory();
  } catch {
    isFolder = false;
  }
  if (isFolder) throw new CliError(`${flag} ${text}: is a folder, expected a file`);
  return text;
};

/** An input file, for a variadic argument: it must exist and be readable (named once if not). */
export function inputFiles(text: string, previous: string[] | undefined): string[] {
  let problem: string | undefined;
  try {
    if (statSync(text).isDirectory()) problem = 'is a folder, expected a file';
    else accessSync(text, constants.R_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    problem = code === 'ENOENT' || code === 'ENOTDIR' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (error as Error).message;
  }
  if (problem !== undefined) throw new CliError(`${text}: ${problem}`);
  return [...(previous ?? []), text];
}

/** `--redis URL` / `--redis-cluster NODES`, checked as the connection will read them (passwords never shown). */
export const redisTarget = (flag: '--redis' | '--redis-cluster'): Parser<string> => (text) => {
  try {
    parseRedisTarget(flag === '--redis' ? { redis: text } : { redisCluster: text });
  } catch (error) {
    if (flag === '--redis') throw new CliError(`--redis: expected redis://[USER:PASSWORD@]HOST:PORT, ${got(text.replace(/\/\/[^@/]*@/, '//***@'))}`);
    throw new CliError((error as Error).message.replace(/^redis-cluster: /, '--redis-cluster: '));
  }
  return text;
};

// Flags both applications take, declared once. Each is a function returning a fresh Option
// (commander keeps state on an Option it has been given); the descriptions say what the flag
// means for the command at hand.

export const checkpointEveryFlag = () =>
  new Option('--checkpoint-every <interval>', 'checkpoint interval: a duration (1s) or a count of input lines (100000)').argParser(checkpointEvery('--checkpoint-every')).default('1s');

/** `reached`: what may be reached under another name, e.g. "--dashboard". */
export const allowedHostFlag = (reached: string) =>
  new Option('--allowed-host <name>', `another name (Host) under which ${reached} may be reached, e.g. behind a proxy; repeatable`)
    .argParser((name: string, names: string[]) => [...names, name])
    .default([] as string[], 'none');

/** `what`: what the outputs are waited for to take, e.g. "the final lists". */
export const drainTimeoutFlag = (what: string) =>
  new Option('--drain-timeout <duration>', `on Ctrl+C or SIGTERM without --checkpoint: how long to wait for the outputs to take ${what}`)
    .argParser(duration('--drain-timeout'))
    .default(5000, '5s');

/*
 * The one error style of the command line: `rivulet: <flag or file>: <what was expected>, got
 * <value>` (or `rivulet: <file>: <problem>`), on one line, exit code 1. Flag values are checked
 * by the parsers of cliFlags.ts when the command line is read, commander's own errors are put in
 * the same words here, and an address that cannot be bound is named by its flag.
 */
import { catchError, MonoTypeOperatorFunction, throwError } from 'rxjs';
import { formatSocketAddress, SocketAddress } from '../index';

/** An error of the command line: its message is the whole line after `rivulet: `. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

/** `got "text"`, quoted as JSON so that spaces, quotes and control characters show. */
export const got = (text: string): string => `got ${JSON.stringify(text)}`;

const flagOf = (flags: string) => /--[\w-]+/.exec(flags)?.[0] ?? flags;

/** The command a message is about: `send-logs`, `route star-leaders`, with its arguments. */
export interface CommandContext {
  path: string;
  arguments: ReadonlyArray<{ name(): string; required: boolean; variadic: boolean }>;
}

/**
 * Commander's own messages (`error: unknown option '--bogus'`, a missing argument, an invalid
 * choice, conflicting options) in the style of the others, without their `error: ` prefix.
 */
export function commanderMessage(text: string, command?: CommandContext): string {
  const message = text.replace(/^error: /, '').trimEnd();
  const suggestion = /\n?\(Did you mean (.+)\?\)$/.exec(message);
  const hint = suggestion === null ? '' : ` (did you mean ${suggestion[1]}?)`;
  const body = suggestion === null ? message : message.slice(0, suggestion.index);
  let m: RegExpExecArray | null;
  if ((m = /^unknown option '(.*)'$/s.exec(body))) return `${m[1]}: unknown option${hint}`;
  if ((m = /^unknown command '(.*)'$/s.exec(body))) return `${m[1]}: unknown command${hint}`;
  if ((m = /^option '([^']*)' argument '(.*)' is invalid\. Allowed choices are (.*)\.$/s.exec(body))) {
    const choices = m[3].split(', ');
    const expected = choices.length === 1 ? choices[0] : `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}`;
    return `${flagOf(m[1])}: expected ${expected}, ${got(m[2])}`;
  }
  if ((m = /^option '([^']*)' argument missing$/.exec(body))) return `${flagOf(m[1])}: expected a value (${m[1]})`;
  if ((m = /^missing required argument '(.*)'$/.exec(body))) {
    const name = m[1];
    const declared = command?.arguments.find((a) => a.name() === name);
    const usage = declared === undefined ? `<${name}>` : `${declared.required ? '<' : '['}${name}${declared.variadic ? '...' : ''}${declared.required ? '>' : ']'}`;
    const path = command === undefined || command.path === '' ? '' : `${command.path} `;
    return `${path}${usage}: missing (see rivulet ${path}--help)`;
  }
  if ((m = /^option '([^']*)' cannot be used with option '([^']*)'$/.exec(body))) return `${flagOf(m[1])}: cannot be used with ${flagOf(m[2])}`;
  if ((m = /^too many arguments(?: for '(.*)')?\. Expected (\d+) arguments? but got (\d+)\.$/.exec(body))) {
    return `${m[1] ?? 'rivulet'}: too many arguments: expected ${m[2]}, got ${m[3]}`;
  }
  return body + hint;
}

const BIND_PROBLEMS = new Map([
  ['EADDRINUSE', 'address already in use'],
  ['EADDRNOTAVAIL', 'not an address of this machine'],
  ['EACCES', 'permission denied (ports below 1024 need privileges)'],
  ['ENOTFOUND', 'no such host'],
  ['EAI_AGAIN', 'the host name could not be resolved'],
]);

/**
 * A server's failure to listen, named by its flag: `--dashboard 127.0.0.1:8080: address already
 * in use`. Every other error passes unchanged.
 */
export function boundBy<T>(flag: string, address: SocketAddress): MonoTypeOperatorFunction<T> {
  return catchError((error: unknown) => {
    const cause = (error as { cause?: { code?: unknown; syscall?: unknown; message?: unknown } } | undefined)?.cause;
    const code = typeof cause?.code === 'string' ? cause.code : undefined;
    const problem = code === undefined ? undefined : BIND_PROBLEMS.get(code);
    const listening = cause?.syscall === 'listen' || cause?.syscall === 'getaddrinfo' || cause?.syscall === 'bind';
    if (problem === undefined || !listening) return throwError(() => error);
    return throwError(() => new CliError(`${flag} ${formatSocketAddress(address.host, address.port)}: ${problem}`));
  });
}

/**
 * Lines read and lines that could not be read, per input file: a file none of whose lines could
 * be read is most likely the wrong kind of file, which a count of unparsed lines alone does not
 * make plain. Warned about at the end of the run; the exit code stays 0.
 */
export class UnreadableFiles {
  private readonly counts = new Map<string, { lines: number; unreadable: number }>();

  private of(source: string) {
    let count = this.counts.get(source);
    if (count === undefined) this.counts.set(source, (count = { lines: 0, unreadable: 0 }));
    return count;
  }

  line(source: string): void {
    this.of(source).lines += 1;
  }

  /**
   * A read of the file has finished with `lines` lines (`FileProgress` with `done`), in place of a
   * call per line. A file whose read did not finish (the run was stopped) is never warned about.
   */
  fileRead(source: string, lines: number): void {
    this.of(source).lines += lines;
  }

  unreadable(source: string): void {
    this.of(source).unreadable += 1;
  }

  /** `rivulet: warning: FILE: none of its N lines could be read as WHAT (LIKELY CAUSE)`, for each such file in `files`. */
  warn(files: readonly string[], write: (line: string) => void, what: string, likelyCause: string): void {
    // Once for a file listed twice; its count is then that of both reads.
    for (const file of new Set(files)) {
      const count = this.counts.get(file);
      if (count === undefined || count.lines === 0 || count.unreadable < count.lines) continue;
      write(`rivulet: warning: ${file}: none of its ${count.lines} line${count.lines === 1 ? '' : 's'} could be read as ${what} (${likelyCause})\n`);
    }
  }
}

const FILE_PROBLEMS = new Map([
  ['ENOENT', 'no such file or folder'],
  ['EACCES', 'permission denied'],
  ['EPERM', 'permission denied'],
  ['EISDIR', 'is a folder, expected a file'],
  ['ENOTDIR', 'a part of the path is not a folder'],
  ['ENOSPC', 'no space left on the device'],
  ['EROFS', 'read-only file system'],
]);

/**
 * The line for an error that ended a command (after `rivulet: `). A file that could not be read
 * or written is named once, by its path, rather than by the library function that met it.
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: NodeJS.ErrnoException }).cause;
  const problem = typeof cause?.code === 'string' ? FILE_PROBLEMS.get(cause.code) : undefined;
  if (problem !== undefined && typeof cause?.path === 'string') return `${cause.path}: ${problem}`;
  return error.message;
}

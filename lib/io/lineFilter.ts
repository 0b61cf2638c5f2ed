import { Buffer } from 'node:buffer';
import { invalidOption } from '../core/errors';
import { JsonMemberScanner } from '../core/jsonMember';

/**
 * A test that a source applies to each raw record (a line of a file, a frame, a message) before
 * anything is built from it, so records a pipeline would drop cost no decoding and no parse.
 * `fileLines` takes one as its `accept` option and, given `acceptBinary`, runs it on the bytes of
 * each line, decoding only the lines it keeps; on any other source, use `acceptText` in an RxJS
 * `filter` before the parse (`filter((line) => f.acceptText(line.text))`).
 */
export interface LineFilter {
  /** Whether to keep a record, from its text. */
  acceptText(text: string): boolean;
  /**
   * The same decision from the record's UTF-8 bytes, given as a binary string (one character per
   * byte, as `buffer.toString('latin1')` makes it): the record is `bytes.slice(start, end)`, without
   * its line ending. For every input, the answer is the one `acceptText` gives on the decoded text.
   */
  acceptBinary?(bytes: string, start: number, end: number): boolean;
}

/**
 * Keeps the JSON object lines whose top-level string member `member` has a value `keep` accepts,
 * judged from the raw line, without parsing it (see JsonMemberScanner for how). A line whose
 * member it cannot read at a glance (no such member, a value that is not a plain string, escapes
 * where the name could hide, a line that is not an object) is kept, for the parser downstream
 * to decide and report: so a line that a full parse would accept, and then keep, is never dropped.
 *
 * What it does not do is check the rest of a line it drops: a line whose member says "drop" but
 * which a full parse would reject (truncated later on, say) is dropped too, as the pipeline would
 * have rejected it anyway, but it does not reach the pipeline's count of unreadable input.
 *
 * ```ts
 * const stars = jsonMemberFilter('type', new Set(['WatchEvent', 'ForkEvent']));
 * stars.acceptText('{"id":"1","type":"PushEvent","payload":{"type":"WatchEvent"}}'); // false
 * stars.acceptText('{"id":"2","type":"PushEvent","type":"WatchEvent"}');              // true: the last one counts
 * fileLines('2015-01-01-0.json.gz', { accept: stars }) // decodes and emits only the lines it keeps
 * ```
 *
 * `member` must be printable ASCII without `"` or `\`; `keep` a Set of values or a predicate
 * (called with the decoded value, and also with the values of nested members of the same name,
 * since ruling those out is how most lines are decided; a throwing predicate throws from the
 * filter).
 */
export function jsonMemberFilter(member: string, keep: ReadonlySet<string> | ((value: string) => boolean)): LineFilter {
  if (typeof member !== 'string' || !/^[ !#-[\]-~]+$/.test(member)) {
    throw invalidOption('jsonMemberFilter', `member must be a non-empty name of printable ASCII without " or \\, got ${JSON.stringify(member)}`);
  }
  const keeps = typeof keep === 'function' ? keep : keep instanceof Set ? (value: string) => keep.has(value) : undefined;
  if (keeps === undefined) throw invalidOption('jsonMemberFilter', 'keep must be a Set of values or a function of the value');
  const scanner = new JsonMemberScanner(member);

  /** `binary`: the text is UTF-8 bytes, one character each, and a value that is not ASCII must be decoded. */
  const accept = (text: string, start: number, end: number, binary: boolean): boolean => {
    if (!scanner.first(text, start, end)) return true;
    const first = scanner.valueStart;
    // Keeping is always safe (the parse downstream decides), so only a drop must be certain.
    if (keeps(valueOf(text, first, scanner.valueEnd, binary))) return true;
    // Nearly always settled here: the later places the name stands in hold values it drops too.
    if (scanner.noLaterValue(text, end, (s, e) => keeps(valueOf(text, s, e, binary)))) return false;
    if (!scanner.last(text, end)) return true;
    return scanner.valueStart !== first && keeps(valueOf(text, scanner.valueStart, scanner.valueEnd, binary));
  };

  return {
    acceptText: (text) => accept(text, 0, text.length, false),
    acceptBinary: (bytes, start, end) => accept(bytes, start, end, true),
  };
}

function valueOf(text: string, start: number, end: number, binary: boolean): string {
  const value = text.slice(start, end);
  return binary && NOT_ASCII.test(value) ? Buffer.from(value, 'latin1').toString('utf8') : value;
}

const NOT_ASCII = /[^\x00-\x7f]/;

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { jsonMemberFilter, RivuletError } from 'rivulet';
import { GH_ARCHIVE_HOURS, PINOT_EVENTS_SAMPLE } from '../../support/data';

const KEPT = new Set(['WatchEvent', 'ForkEvent', 'PullRequestEvent']);
const filter = jsonMemberFilter('type', KEPT);

const REAL_LINES = [
  ...GH_ARCHIVE_HOURS.map((p) => gunzipSync(readFileSync(p)).toString('utf8')),
  readFileSync(PINOT_EVENTS_SAMPLE, 'utf8'),
].flatMap((text) => text.split('\n').filter((l) => l !== ''));

/** What star-leaders keeps after a full parse: a JSON object whose "type" is one of KEPT. */
function fullParseKeeps(line: string): boolean {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value) && KEPT.has((value as { type?: unknown }).type as string);
  } catch {
    return false;
  }
}

function parses(line: string): { type?: unknown } | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as { type?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}

/** The line's UTF-8 bytes as a binary string, inside other bytes so that the bounds matter. */
function asBinary(line: string): [string, number, number] {
  const before = '{"type":"WatchEvent"}\n';
  const bytes = Buffer.from(`${before}${line}\n{"type":"ForkEvent","x":"\\u0074"}`, 'utf8');
  const start = Buffer.byteLength(before);
  return [bytes.toString('latin1'), start, start + Buffer.byteLength(line)];
}

/**
 * The pre-filter's contract, on one line: it keeps every line a full parse keeps (so filter then
 * parse keeps exactly the lines a parse keeps), it drops a line that parses only when the line's
 * own "type" says so, and it answers the same from the text and from the bytes.
 */
function checkLine(line: string): void {
  const text = filter.acceptText(line);
  const bytes = filter.acceptBinary!(...asBinary(line));
  expect([line, bytes]).toEqual([line, text]);
  if (fullParseKeeps(line)) expect([line, text]).toEqual([line, true]);
  const parsed = parses(line);
  if (!text && parsed !== undefined) expect([line, typeof parsed.type === 'string' && !KEPT.has(parsed.type)]).toEqual([line, true]);
  // Filter, then parse: exactly the lines the parse alone keeps.
  expect([line, text && fullParseKeeps(line)]).toEqual([line, fullParseKeeps(line)]);
}

describe('jsonMemberFilter', () => {
  it('keeps exactly the real GH Archive events of the kept types, and drops every other real event', () => {
    expect(REAL_LINES.length).toBeGreaterThan(15_000);
    let dropped = 0;
    for (const line of REAL_LINES) {
      checkLine(line);
      const keep = filter.acceptText(line);
      // Real archive lines are all well formed: the filter is sure about every one of them.
      expect([line.slice(0, 60), keep]).toEqual([line.slice(0, 60), fullParseKeeps(line)]);
      if (!keep) dropped++;
    }
    expect(dropped / REAL_LINES.length).toBeGreaterThan(0.8);
  });

  it.each([
    ['a nested "type" of a kept type', '{"id":"1","type":"PushEvent","payload":{"type":"WatchEvent"}}', false],
    ['a later duplicate, which JSON.parse keeps', '{"id":"1","type":"PushEvent","type":"WatchEvent"}', true],
    ['a later duplicate of a dropped type', '{"type":"WatchEvent","id":"1","type":"PushEvent"}', true],
    ['a later duplicate written with an escape', '{"type":"PushEvent","t\\u0079pe":"WatchEvent"}', true],
    ['an earlier key written with an escape', '{"\\u0074ype":"WatchEvent","id":1}', true],
    ['an escaped value', '{"type":"Watch\\u0045vent"}', true],
    ['an escaped value of a dropped type', '{"type":"Push\\u0045vent"}', true],
    ['escaped quotes around "type" inside a string', '{"a":"x\\"type\\":\\"WatchEvent\\"","type":"PushEvent"}', false],
    ['whitespace everywhere', ' \t{ "id" : 1 ,\r\n "type"\t:\n"PushEvent" } ', false],
    ['reordered members', '{"payload":{"type":"x","a":[1,{"type":"WatchEvent"}]},"actor":{},"type":"PushEvent","n":-1.5e3}', false],
    ['a type that is not a string', '{"type":5}', true],
    ['no type at all', '{"id":"1"}', true],
    ['an array', '[{"type":"PushEvent"}]', true],
    ['a blank line', '', true],
    ['text after the object, which JSON.parse rejects', '{"type":"PushEvent"} {"type":"WatchEvent"}', true],
    ['a non-breaking space, which JSON does not allow', '{\u00a0"type":"WatchEvent"}', true],
    ['a truncated line of a dropped type', '{"id":"1","type":"PushEvent","payload":{"a":', false],
    ['non-ASCII in the value', '{"type":"WatchEvént"}', false],
  ])('judges %s', (_what, line, kept) => {
    expect(filter.acceptText(line)).toBe(kept);
    checkLine(line);
  });

  it('reads non-ASCII values from the bytes as UTF-8, and takes a predicate', () => {
    const accented = jsonMemberFilter('kind', (value) => value === 'été');
    expect(accented.acceptText('{"kind":"été"}')).toBe(true);
    expect(accented.acceptBinary!(...asBinary('{"kind":"été"}'))).toBe(true);
    expect(accented.acceptBinary!(...asBinary('{"kind":"ete"}'))).toBe(false);
  });

  it('rejects member names JSON could write in more than one way, and a keep that is neither a Set nor a function', () => {
    for (const bad of ['', 'a"b', 'a\\b', 'é', '\n']) {
      expect(() => jsonMemberFilter(bad, KEPT)).toThrow(RivuletError);
    }
    expect(() => jsonMemberFilter('type', ['WatchEvent'] as unknown as Set<string>)).toThrow('keep must be a Set');
  });

  // Adversarial objects: members named "type" (raw or with escapes) anywhere and at any depth,
  // duplicates, values with escaped quotes and \u escapes, whitespace between all tokens, reordered
  // members; then some lines cut short or with a character changed.
  const space = fc.constantFrom('', '', '', ' ', '\t', '\r\n', ' \n ', '\u00a0');
  const rawString = fc.oneof(
    fc.constantFrom('type', 'type', 'id', 'payload', 'typ', 'types', 'Type', 't\\u0079pe', '\\u0074ype', 'typ\\u0065', 'ty\\"pe', '\\\\type'),
    fc.constantFrom('WatchEvent', 'PushEvent', 'ForkEvent', 'PullRequestEvent', 'Watch\\u0045vent', 'Push\\"Event', 'WatchEvent\\\\', '"type":"WatchEvent"'),
    fc.string({ maxLength: 6 }).map((s) => JSON.stringify(s).slice(1, -1)),
  );
  const { value } = fc.letrec<{ value: string }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      rawString.map((s) => `"${s}"`),
      fc.constantFrom('1', '-0.5e3', 'true', 'false', 'null'),
      fc.array(fc.tuple(space, tie('value'), space), { maxLength: 3 }).map((items) => `[${items.map((i) => i.join('')).join(',')}]`),
      fc.array(fc.tuple(space, rawString, space, space, tie('value'), space), { maxLength: 4 }).map(
        (members) => `{${members.map(([a, k, b, c, v, d]) => `${a}"${k}"${b}:${c}${v}${d}`).join(',')}}`,
      ),
    ),
  }));
  const member = fc.tuple(space, rawString, space, space, value, space).map(([a, k, b, c, v, d]) => `${a}"${k}"${b}:${c}${v}${d}`);
  const typeMember = fc.tuple(space, fc.constantFrom('type', 't\\u0079pe'), space, value).map(([a, k, b, v]) => `${a}"${k}"${b}:${v}`);
  const object = fc
    .tuple(space, fc.array(fc.oneof(member, typeMember, typeMember), { maxLength: 6 }), space)
    .map(([a, members, b]) => `${a}{${members.join(',')}}${b}`);
  const line = fc.oneof(
    { arbitrary: object, weight: 4 },
    { arbitrary: fc.tuple(object, fc.nat()).map(([o, n]) => o.slice(0, n % (o.length + 1))), weight: 1 },
    { arbitrary: fc.tuple(object, fc.nat(), fc.constantFrom('"', '\\', '{', '}', ',', ':', ' ', 'x')).map(([o, n, c]) => o.slice(0, n % (o.length + 1)) + c + o.slice(n % (o.length + 1))), weight: 1 },
    { arbitrary: fc.constantFrom(...REAL_LINES.slice(0, 200)), weight: 1 },
  );

  it('on generated adversarial lines, drops only lines whose own type a full parse would drop', () => {
    fc.assert(fc.property(line, checkLine), { numRuns: 4000 });
  });

  it('on real lines with a character inserted, removed or replaced, still never drops a line a full parse keeps', () => {
    const edited = fc
      .tuple(fc.constantFrom(...REAL_LINES.filter((l) => l.length < 4000)), fc.nat(), fc.constantFrom('insert', 'remove', 'replace'), fc.constantFrom('"', '\\', '{', '}', '[', ']', ',', ':', ' ', 'e', 'u'))
      .map(([l, where, how, c]) => {
        const at = where % (l.length + 1);
        return l.slice(0, at) + (how === 'remove' ? '' : c) + l.slice(how === 'insert' ? at : at + 1);
      });
    fc.assert(fc.property(edited, checkLine), { numRuns: 1500 });
  });
});

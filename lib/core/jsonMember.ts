import { invalidOption } from './errors';

/**
 * Finds the string value of one top-level member of a JSON object line without parsing the line.
 *
 * The first top-level member of the name is reached by walking the members before it (GH
 * Archive's `"type"` is the second); whether a later member of the same name overrides it
 * (JSON.parse keeps the last of duplicate members) is settled by searching the rest of the line
 * for anything that could be one, the name in quotes or a `\u` escape of one of its characters,
 * and only where one turns up by walking the remaining members one by one.
 *
 * Works on a JavaScript string, or on UTF-8 bytes given as a binary string (one character per
 * byte, as `buffer.toString('latin1')` gives): every character JSON gives a meaning to is ASCII,
 * so the walk is the same either way, and V8's string search is far quicker than a Buffer's.
 *
 * The answers are exact for every line JSON.parse accepts: when {@link first} returns true, the
 * line's first top-level member of the name is the string between `valueStart` and `valueEnd`
 * (which holds no escapes); when {@link last} then returns true, so is its last one, the one
 * `JSON.parse(line)[name]` gives. Anything the scanner does not follow at a glance (a name or
 * value with escapes, a value that is not a string, a top level that is not an object, text after
 * the object) makes it return false, meaning "parse it to know". On lines JSON.parse rejects, the
 * answers mean nothing, and callers must not rely on them.
 */
export class JsonMemberScanner {
  /** Bounds of the value found by the last successful {@link first} or {@link last}, inside the quotes. */
  valueStart = 0;
  valueEnd = 0;

  /** The name without its first character, then a quote: a quicker search than the quoted name. */
  private readonly needle: string;
  /** Code units whose `\u` escape could spell part of the name. */
  private readonly nameChars: ReadonlySet<number>;
  /** Where {@link first} stopped: after the member found and the spaces after it. */
  private resumeAt = 0;
  /**
   * The last search of each needle (0: the name, 1: `\u`) in the last text: where it started and
   * what it found. Lines are scanned in order through one chunk, so each stretch of the chunk is
   * searched once, not once per line up to the next escape far ahead. Strings never change, so
   * a remembered answer stays right.
   */
  private memoText = '';
  private readonly memoFrom = [Infinity, Infinity];
  private readonly memoAt = [-1, -1];

  /** `name`: printable ASCII without quotes or backslashes, so JSON can write it raw only one way. */
  constructor(private readonly name: string) {
    if (typeof name !== 'string' || !/^[ !#-[\]-~]+$/.test(name)) {
      throw invalidOption('JsonMemberScanner', `the member name must be printable ASCII without " or \\, got ${JSON.stringify(name)}`);
    }
    this.needle = `${name.slice(1)}"`;
    this.nameChars = new Set([...name].map((c) => c.charCodeAt(0)));
  }

  /** Finds the first top-level member of the name in `text[start, end)`; true when its value is a plain string. */
  first(text: string, start: number, end: number): boolean {
    let i = skipSpace(text, start, end);
    if (text.charCodeAt(i) !== OPEN_OBJECT) return false;
    i = skipSpace(text, i + 1, end);
    for (;;) {
      const next = this.member(text, i, end);
      if (next < 0) return false;
      if (this.matched) {
        this.resumeAt = next;
        return true;
      }
      if (text.charCodeAt(next) !== COMMA) return false; // the object ended without the member
      i = skipSpace(text, next + 1, end);
    }
  }

  /**
   * After {@link first} on the same text and bounds: true when the value now in `valueStart` and
   * `valueEnd` is that of the last member of the name (the first, or a later one, then set).
   */
  last(text: string, end: number): boolean {
    let i = this.resumeAt;
    if (!this.mayRepeat(text, i, end)) return true;
    let lastStart = this.valueStart;
    let lastEnd = this.valueEnd;
    while (text.charCodeAt(i) === COMMA) {
      i = this.member(text, skipSpace(text, i + 1, end), end);
      if (i < 0) return false;
      if (this.matched) {
        lastStart = this.valueStart;
        lastEnd = this.valueEnd;
      }
    }
    if (text.charCodeAt(i) !== CLOSE_OBJECT || skipSpace(text, i + 1, end) !== end) return false;
    this.valueStart = lastStart;
    this.valueEnd = lastEnd;
    return true;
  }

  /**
   * After {@link first} on the same text and bounds: true when no later member of the name can
   * hold a value that `accepts` takes, decided without walking the members. Every place after the
   * first member where the name stands in quotes before a `:` is looked at (nested members too,
   * and a quoted name inside a string, which is more than needed and never less), and `accepts`
   * is asked about its value; false, meaning "walk with {@link last} to know", when one is taken,
   * when one is not a plain string, or when a `\u` escape could spell the name. A line whose
   * later members of the name all hold values the caller would drop is so settled by a search.
   */
  noLaterValue(text: string, end: number, accepts: (valueStart: number, valueEnd: number) => boolean): boolean {
    const from = this.resumeAt;
    if (this.escapeMaySpell(text, from, end)) return false;
    const name = this.name;
    for (let at = this.next(0, text, from); at >= 0 && at < end; at = this.next(0, text, at + 1)) {
      if (!(at - 2 >= from && text.charCodeAt(at - 2) === QUOTE && text.charCodeAt(at - 1) === name.charCodeAt(0))) continue;
      let j = skipSpace(text, at + this.needle.length, end);
      if (text.charCodeAt(j) !== COLON) continue; // a value or an array item, never a member
      j = skipSpace(text, j + 1, end);
      if (text.charCodeAt(j) !== QUOTE) return false;
      const valueEnd = stringEnd(text, j + 1, end);
      if (valueEnd < 0 || holds(text, j + 1, valueEnd, BACKSLASH) || accepts(j + 1, valueEnd)) return false;
    }
    return true;
  }

  /** Set by {@link member}: the member read was one of the name (and its value bounds are set). */
  private matched = false;

  /**
   * Reads the member `"key": value` at `i`; returns the position after it and the spaces after
   * it (a `,` or `}` in valid JSON), or -1 where the scanner cannot be sure of it.
   */
  private member(text: string, i: number, end: number): number {
    this.matched = false;
    if (text.charCodeAt(i) !== QUOTE) return -1;
    const keyEnd = stringEnd(text, i + 1, end);
    if (keyEnd < 0) return -1;
    const isName = keyEnd - i - 1 === this.name.length && text.startsWith(this.name, i + 1);
    // A key with escapes could spell the name.
    if (!isName && holds(text, i + 1, keyEnd, BACKSLASH)) return -1;
    let j = skipSpace(text, keyEnd + 1, end);
    if (text.charCodeAt(j) !== COLON) return -1;
    j = skipSpace(text, j + 1, end);
    if (!isName) {
      const after = skipValue(text, j, end);
      return after < 0 ? -1 : skipSpace(text, after, end);
    }
    if (text.charCodeAt(j) !== QUOTE) return -1;
    const valueEnd = stringEnd(text, j + 1, end);
    if (valueEnd < 0 || holds(text, j + 1, valueEnd, BACKSLASH)) return -1;
    this.valueStart = j + 1;
    this.valueEnd = valueEnd;
    this.matched = true;
    return skipSpace(text, valueEnd + 1, end);
  }

  /** Whether `text[from, end)` holds the name in quotes, or a `\u` escape of one of its characters. */
  private mayRepeat(text: string, from: number, end: number): boolean {
    const name = this.name;
    for (let at = this.next(0, text, from); at >= 0 && at < end; at = this.next(0, text, at + 1)) {
      // The needle is the name's tail and a quote: the quote and first character must precede it.
      if (at - 2 >= from && text.charCodeAt(at - 2) === QUOTE && text.charCodeAt(at - 1) === name.charCodeAt(0)) return true;
    }
    return this.escapeMaySpell(text, from, end);
  }

  /** Whether `text[from, end)` holds a `\u` escape of one of the name's characters. */
  private escapeMaySpell(text: string, from: number, end: number): boolean {
    for (let at = this.next(1, text, from); at >= 0 && at < end; at = this.next(1, text, at + 2)) {
      if (this.nameChars.has(Number.parseInt(text.slice(at + 2, at + 6), 16))) return true;
    }
    return false;
  }

  private next(needle: 0 | 1, text: string, from: number): number {
    if (text !== this.memoText) {
      this.memoText = text;
      this.memoFrom[0] = this.memoFrom[1] = Infinity;
    }
    const at = this.memoAt[needle];
    if (from >= this.memoFrom[needle] && (at < 0 || at >= from)) return at;
    this.memoFrom[needle] = from;
    return (this.memoAt[needle] = text.indexOf(needle === 0 ? this.needle : '\\u', from));
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/** JSON's four whitespace characters only: to JSON.parse, nothing else is whitespace. */
function skipSpace(text: string, i: number, end: number): number {
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
  return end;
}

function holds(text: string, from: number, to: number, code: number): boolean {
  for (let k = from; k < to; k++) if (text.charCodeAt(k) === code) return true;
  return false;
}

/** Position of the quote that ends the string whose content starts at `i`, or -1. */
function stringEnd(text: string, i: number, end: number): number {
  for (;;) {
    const q = text.indexOf('"', i);
    if (q < 0 || q >= end) return -1;
    // Escaped when preceded by an odd number of backslashes.
    let k = q - 1;
    while (k >= i && text.charCodeAt(k) === BACKSLASH) k--;
    if ((q - 1 - k) % 2 === 0) return q;
    i = q + 1;
  }
}

/**
 * Position after the value at `i` (a string; an object or array with all inside it; a number or
 * literal), or -1. Not a validator: on text JSON.parse accepts, it ends where the value ends,
 * which is all the scanner relies on.
 */
function skipValue(text: string, i: number, end: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) {
    const q = stringEnd(text, i + 1, end);
    return q < 0 ? -1 : q + 1;
  }
  if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
    let depth = 0;
    for (; i < end; i++) {
      const b = text.charCodeAt(i);
      if (b === QUOTE) {
        i = stringEnd(text, i + 1, end);
        if (i < 0) return -1;
      } else if (b === OPEN_OBJECT || b === OPEN_ARRAY) depth++;
      else if ((b === CLOSE_OBJECT || b === CLOSE_ARRAY) && --depth === 0) return i + 1;
    }
    return -1;
  }
  // A number, true, false or null: up to the next delimiter.
  const start = i;
  while (i < end) {
    const b = text.charCodeAt(i);
    if (b === COMMA || b === CLOSE_OBJECT || b === CLOSE_ARRAY || b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) break;
    i++;
  }
  return i > start ? i : -1;
}

/**
 * The hand-written baselines' line reader, on Node's own modules alone: a baseline run as a
 * script of its own (logCountsLoop.ts) starts as a user's script would, without loading RxJS.
 */
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

/** Lines of a file, read in 64 KiB chunks: what a careful hand-written reader does. */
export async function forEachLine(path: string, onLine: (text: string, lineNumber: number) => void): Promise<void> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let lineNumber = 0;
  const emitText = (text: string): void => {
    let end = text.indexOf('\n');
    if (end === -1) {
      rest += text;
      return;
    }
    let line = rest + text.slice(0, end);
    let start = 0;
    for (;;) {
      if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
      onLine(line, ++lineNumber);
      start = end + 1;
      end = text.indexOf('\n', start);
      if (end === -1) break;
      line = text.slice(start, end);
    }
    rest = text.slice(start);
  };
  for await (const chunk of createReadStream(path, { highWaterMark: 64 * 1024 })) emitText(decoder.write(chunk as Buffer));
  emitText(decoder.end());
  if (rest !== '') onLine(rest, ++lineNumber);
}

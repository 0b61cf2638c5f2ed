/**
 * A sink on a stream that cannot be rewound (stdout, a pipe): for checkpointed runs that can
 * accept repeats.
 */
import type { Writable } from 'node:stream';
import { RivuletError } from '../core/errors';
import type { RewindableSink } from './positions';

/**
 * Writes each record as a line to `stream`. Its position is the number of records written, so a
 * resumed run knows how many came before; it cannot take back what it wrote, so after a crash the
 * records written since the last checkpoint are written again (at least once). Records should
 * carry a sequence number (kept in the pipeline's state) for a consumer to drop the repeats.
 */
export function streamOutput(stream: Writable, name = 'output'): RewindableSink<string, number> {
  if (stream === null || typeof stream?.write !== 'function') throw new RivuletError('ERR_INVALID_OPTION', 'streamOutput: stream must be a Writable');
  let records = 0;
  let failure: Error | undefined;
  const onError = (error: Error): void => {
    failure ??= error;
  };
  return {
    name,
    async open(at) {
      records = at ?? 0;
      stream.on('error', onError);
    },
    write(record) {
      if (failure) throw new RivuletError('ERR_FILE', `${name}: cannot write: ${failure.message}`, { cause: failure });
      records++;
      stream.write(`${record}\n`);
    },
    position: () => records,
    pendingBytes: () => stream.writableLength,
    flush: () =>
      new Promise<void>((resolve, reject) => {
        if (failure) return reject(new RivuletError('ERR_FILE', `${name}: cannot write: ${failure.message}`, { cause: failure }));
        // A write of nothing calls back once everything before it has been handed to the OS.
        stream.write('', (error) => (error ? reject(new RivuletError('ERR_FILE', `${name}: cannot write: ${error.message}`, { cause: error })) : resolve()));
      }),
    async close() {
      await this.flush();
      stream.off('error', onError);
    },
  };
}

/**
 * A file of lines that can be rewound: the sink that makes checkpointed runs exactly-once.
 */
import { promises as fs } from 'node:fs';
import { RivuletError } from '../core/errors';
import type { RewindableSink } from './positions';

/** Small records are written in batches of about this size: one write call, not one per line. */
const BATCH_BYTES = 65_536;

/**
 * Writes each record as a line to `path`. Its position is the file's length in bytes; opened at
 * a checkpoint's position, it truncates the file there, so the records written after that
 * checkpoint (by a run that was then killed) are dropped and written again once. Without a
 * position it starts the file empty.
 *
 * Refuses to resume on a file shorter than the checkpoint says (changed or replaced since), rather
 * than leave a hole. `flush` waits for the writes and fsyncs the file.
 */
export function fileOutput(path: string): RewindableSink<string, number> {
  if (typeof path !== 'string' || path === '') throw new RivuletError('ERR_INVALID_OPTION', 'fileOutput: path must be a non-empty string');
  let file: fs.FileHandle | undefined;
  let length = 0; // bytes handed to the sink
  let written = 0; // bytes the file has confirmed
  let batch: string[] = [];
  let batchBytes = 0;
  let writing: Promise<void> = Promise.resolve();
  let failure: RivuletError | undefined;
  const fail = (what: string, error: unknown): RivuletError =>
    new RivuletError('ERR_FILE', `${path}: cannot ${what}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });

  const send = (): void => {
    if (batch.length === 0 || file === undefined) return;
    const bytes = Buffer.from(batch.join(''), 'utf8');
    const handle = file;
    batch = [];
    batchBytes = 0;
    writing = writing.then(async () => {
      if (failure) return;
      try {
        let offset = 0;
        while (offset < bytes.length) offset += (await handle.write(bytes, offset, bytes.length - offset, written + offset)).bytesWritten;
        written += bytes.length;
      } catch (error) {
        failure = fail('write', error);
      }
    });
  };

  return {
    name: path,
    async open(at) {
      try {
        if (at === undefined || at === 0) {
          file = await fs.open(path, 'w');
        } else {
          file = await fs.open(path, 'r+');
          const { size } = await file.stat();
          if (size < at) {
            throw new RivuletError('ERR_CHECKPOINT_INCOMPATIBLE', `${path}: is ${size} bytes, but the checkpoint says ${at} were written: was it changed since?`);
          }
          await file.truncate(at);
        }
      } catch (error) {
        if (error instanceof RivuletError) throw error;
        throw fail(at === undefined ? 'create it' : 'reopen it', error);
      }
      length = written = at ?? 0;
      failure = undefined;
    },
    write(record) {
      if (failure) throw failure;
      const line = `${record}\n`;
      batch.push(line);
      const bytes = Buffer.byteLength(line, 'utf8');
      length += bytes;
      batchBytes += bytes;
      if (batchBytes >= BATCH_BYTES) send();
    },
    position: () => length,
    pendingBytes: () => length - written,
    async flush() {
      send();
      await writing;
      if (failure) throw failure;
      try {
        await file?.sync();
      } catch (error) {
        throw fail('sync', error);
      }
    },
    async close() {
      if (file === undefined) return;
      try {
        await this.flush();
      } finally {
        const handle = file;
        file = undefined;
        await handle.close();
      }
    },
  };
}

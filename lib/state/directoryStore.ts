/**
 * The embedded checkpoint store: one local folder.
 *
 * ```text
 * DIR/checkpoint-000041.ckpt   the previous checkpoint
 * DIR/checkpoint-000042.ckpt   the latest (the two newest are kept)
 * DIR/failures.json            values whose processing threw, by source position
 * DIR/dead-letters.jsonl       values given up on, one JSON object a line
 * DIR/completed.json           present once the run has finished
 * DIR/lock                     the pid of the run using the folder
 * ```
 *
 * Every file but the dead-letter log is replaced atomically: written to a temporary name,
 * fsync'd, renamed over the old one, and the folder fsync'd, so a crash at any instant leaves
 * either the old file or the new one, whole. A checkpoint that is damaged anyway (a disk fault,
 * a copy cut short) fails its checksum on load and the previous one is used.
 */
import { promises as fs, constants } from 'node:fs';
import { join } from 'node:path';
import { RivuletError } from '../core/errors';
import { decodeCheckpoint, type Checkpoint } from './codec';
import type { CheckpointStore, CompletedRun, DeadLetterRecord, Failure } from './store';

const CHECKPOINT = /^checkpoint-(\d{6,})\.ckpt$/;
const KEEP = 2;

/** A {@link CheckpointStore} in the folder `dir` (created if missing). */
export function directoryStore(dir: string): CheckpointStore {
  if (typeof dir !== 'string' || dir === '') throw new RivuletError('ERR_INVALID_OPTION', 'directoryStore: dir must be a non-empty path');
  const where = `checkpoint directory ${dir}`;
  const fail = (what: string, error: unknown): RivuletError =>
    new RivuletError('ERR_CHECKPOINT_STORE', `${where}: cannot ${what}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  let locked = false;

  async function replace(name: string, bytes: Buffer | string): Promise<void> {
    const tmp = join(dir, `.${name}.tmp`);
    const file = await fs.open(tmp, 'w');
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await fs.rename(tmp, join(dir, name));
    await syncDir();
  }

  async function syncDir(): Promise<void> {
    const handle = await fs.open(dir, constants.O_RDONLY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async function checkpointFiles(): Promise<string[]> {
    const names = await fs.readdir(dir);
    return names.filter((n) => CHECKPOINT.test(n)).sort((a, b) => Number(CHECKPOINT.exec(b)![1]) - Number(CHECKPOINT.exec(a)![1]));
  }

  async function readJson<T>(name: string): Promise<T | undefined> {
    try {
      return JSON.parse(await fs.readFile(join(dir, name), 'utf8')) as T;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fail(`read ${name}`, error);
    }
  }

  return {
    name: dir,
    async open() {
      try {
        await fs.mkdir(dir, { recursive: true });
      } catch (error) {
        throw fail('create it', error);
      }
      const lock = join(dir, 'lock');
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          await fs.writeFile(lock, `${process.pid}\n`, { flag: 'wx' });
          locked = true;
          return;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw fail('write to it', error);
        }
        const holder = Number((await fs.readFile(lock, 'utf8').catch(() => '')).trim());
        if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
          throw new RivuletError('ERR_CHECKPOINT_STORE', `${where}: in use by process ${holder}`);
        }
        await fs.rm(lock, { force: true }); // left by a run that died
      }
      throw new RivuletError('ERR_CHECKPOINT_STORE', `${where}: cannot take its lock`);
    },
    async load(onCorrupt) {
      for (const name of await checkpointFiles().catch((error: unknown) => Promise.reject(fail('list it', error)))) {
        const path = join(dir, name);
        try {
          return decodeCheckpoint(await fs.readFile(path), path);
        } catch (error) {
          if (!(error instanceof RivuletError)) throw fail(`read ${name}`, error);
          onCorrupt?.(`${error.message}; using the one before`);
        }
      }
      return undefined;
    },
    async save(checkpoint: Checkpoint, bytes: Buffer) {
      const name = `checkpoint-${String(checkpoint.seq).padStart(6, '0')}.ckpt`;
      try {
        await replace(name, bytes);
        for (const old of (await checkpointFiles()).slice(KEEP)) await fs.rm(join(dir, old), { force: true });
      } catch (error) {
        throw fail(`write ${name}`, error);
      }
    },
    completed: () => readJson<CompletedRun>('completed.json'),
    async complete(run) {
      try {
        await replace('completed.json', `${JSON.stringify(run)}\n`);
      } catch (error) {
        throw fail('write completed.json', error);
      }
    },
    async failures() {
      const list = (await readJson<Failure[]>('failures.json')) ?? [];
      return new Map(list.map((f) => [f.position, f]));
    },
    async recordFailure(failure) {
      const all = await this.failures();
      all.set(failure.position, failure);
      try {
        await replace('failures.json', `${JSON.stringify([...all.values()])}\n`);
      } catch (error) {
        throw fail('write failures.json', error);
      }
    },
    async deadLetter(record: DeadLetterRecord) {
      try {
        await fs.appendFile(join(dir, 'dead-letters.jsonl'), `${JSON.stringify(record)}\n`);
      } catch (error) {
        throw fail('write dead-letters.jsonl', error);
      }
    },
    async close() {
      if (!locked) return;
      locked = false;
      await fs.rm(join(dir, 'lock'), { force: true });
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

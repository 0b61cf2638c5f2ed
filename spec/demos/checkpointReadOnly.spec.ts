import { execFileSync, spawn, SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WALLAROO_DAYS } from '../support/data';
import { RIVULET_BIN } from '../support/childCli';

const NOBODY = 65_534;

/**
 * Makes `folder` read-only for the CLI run with the options returned. Mode 0555 does it for any
 * user but root, who writes anywhere: for root the folder is made immutable (`chattr +i`, which
 * binds root too) or, where the file system or the capabilities do not allow that, the CLI runs
 * as `nobody`, for whom mode 0555 holds.
 */
function readOnly(folder: string): { options: SpawnOptions; undo: () => void } {
  chmodSync(folder, 0o555);
  const undo = () => chmodSync(folder, 0o755);
  if (process.getuid?.() !== 0) return { options: {}, undo };
  try {
    execFileSync('chattr', ['+i', folder], { stdio: 'ignore' });
    return { options: {}, undo: () => (execFileSync('chattr', ['-i', folder], { stdio: 'ignore' }), undo()) };
  } catch {
    return { options: { uid: NOBODY, gid: NOBODY }, undo };
  }
}

describe('a checkpoint folder that cannot be written', () => {
  let dir: string;
  let undo = () => undefined as void;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rivulet-readonly-'));
    chmodSync(dir, 0o777);
  });
  afterEach(() => {
    undo();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops log-counts at once with exit 1, naming the file it could not create, and writes no output', async () => {
    const ckpt = join(dir, 'ckpt');
    mkdirSync(ckpt);
    const locked = readOnly(ckpt);
    undo = locked.undo;
    const output = join(dir, 'out.jsonl');
    const child = spawn(process.execPath, [RIVULET_BIN, 'log-counts', WALLAROO_DAYS[0], '--checkpoint', ckpt, '--output', output], { ...locked.options, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(stderr).toBe(`rivulet: ${join(ckpt, 'lock')}: permission denied\n`);
      expect(code).toBe(1);
      expect(existsSync(output)).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

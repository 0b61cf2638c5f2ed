import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { brotliDecompressSync } from 'node:zlib';

/**
 * Where the browser tests find a chromium, in order: the path in RIVULET_CHROMIUM; a system
 * chromium (Debian's /usr/bin/chromium, or `chromium` on PATH); else the headless chromium that the
 * devDependency @sparticuz/chromium carries inside its npm package, unpacked into the temp
 * directory (RIVULET_CHROMIUM=packaged asks for that one even where a system chromium exists).
 * Nothing is ever downloaded, so a clone needs only `npm install`.
 */
export interface ChromiumChoice {
  readonly executablePath: string;
  readonly source: 'RIVULET_CHROMIUM' | 'system' | '@sparticuz/chromium';
}

export async function findChromium(): Promise<ChromiumChoice> {
  const fromEnv = process.env.RIVULET_CHROMIUM;
  if (fromEnv === 'packaged') return { executablePath: await packagedChromium(), source: '@sparticuz/chromium' };
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!isFile(fromEnv)) throw new Error(`RIVULET_CHROMIUM=${fromEnv}: no such file`);
    return { executablePath: fromEnv, source: 'RIVULET_CHROMIUM' };
  }
  const system = systemChromium();
  if (system !== undefined) return { executablePath: system, source: 'system' };
  return { executablePath: await packagedChromium(), source: '@sparticuz/chromium' };
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function systemChromium(): string | undefined {
  const candidates = ['/usr/bin/chromium', ...(process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '').map((dir) => join(dir, 'chromium'))];
  return candidates.find(isFile);
}

/** The package's own directory (its `exports` hide package.json and bin/ from require). */
function packageDir(): string {
  return join(dirname(require.resolve('@sparticuz/chromium')), '..', '..');
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageDir(), 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * The package unpacks its browser to $TMPDIR/chromium and reuses any file found there, complete or
 * not. Jest workers (and other test runs on the machine) may ask at the same moment, so unpacking
 * happens under a lock, and a marker written afterwards says that the file there is whole and of
 * this version; without the marker the file is unpacked afresh.
 */
async function packagedChromium(): Promise<string> {
  const marker = join(tmpdir(), `rivulet-chromium-${packageVersion()}.ready`);
  const ready = () => {
    try {
      const path = readFileSync(marker, 'utf8');
      return isFile(path) ? path : undefined;
    } catch {
      return undefined;
    }
  };
  const known = ready();
  if (known !== undefined) return known;
  return withLock(join(tmpdir(), 'rivulet-chromium.lock'), async () => {
    const again = ready();
    if (again !== undefined) return again;
    rmSync(join(tmpdir(), 'chromium'), { force: true });
    const { default: chromium } = await import('@sparticuz/chromium');
    const path = await chromium.executablePath();
    writeFileSync(marker, path);
    return path;
  });
}

/**
 * Libraries the packaged browser links against (NSS, NSPR, expat), shipped by the same package
 * for systems that lack them; unpacked on demand into a directory for LD_LIBRARY_PATH.
 */
export async function packagedChromiumLibraries(): Promise<string> {
  const dir = join(tmpdir(), `rivulet-chromium-${packageVersion()}-lib`);
  const marker = `${dir}.ready`;
  if (existsSync(marker)) return dir;
  return withLock(join(tmpdir(), 'rivulet-chromium.lock'), async () => {
    if (existsSync(marker)) return dir;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const entry of tarEntries(brotliDecompressSync(readFileSync(join(packageDir(), 'bin', 'al2023.tar.br'))))) {
      const name = entry.name.replace(/^(\.\/)?lib\//, '');
      if (name === '' || name.includes('/')) continue;
      writeFileSync(join(dir, name), entry.data, { mode: 0o755 });
    }
    writeFileSync(marker, '');
    return dir;
  });
}

/** The regular files of an uncompressed ustar archive (the only kind the package ships). */
function* tarEntries(archive: Buffer): Generator<{ name: string; data: Buffer }> {
  let offset = 0;
  while (offset + 512 <= archive.length) {
    const header = archive.subarray(offset, offset + 512);
    const field = (start: number, length: number) => header.toString('utf8', start, start + length).replace(/\0[\s\S]*$/, '');
    const name = field(0, 100);
    if (name === '') return;
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1);
    const prefix = field(345, 155);
    const dataStart = offset + 512;
    if (type === '0' || type === '') yield { name: prefix === '' ? name : `${prefix}/${name}`, data: archive.subarray(dataStart, dataStart + size) };
    offset = dataStart + Math.ceil(size / 512) * 512;
  }
}

/** Runs `work` while holding a directory lock; a lock left by a process that has died is broken. */
async function withLock<T>(lock: string, work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (lockIsStale(lock)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${lock}: still held after 3 minutes; remove it if no test run is unpacking chromium`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function lockIsStale(lock: string): boolean {
  try {
    const pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
    process.kill(pid, 0);
    return false;
  } catch (error) {
    // EPERM: the process exists under another user. No pid file yet: the holder has only just
    // made the directory, unless that was long ago.
    if ((error as NodeJS.ErrnoException).code === 'EPERM') return false;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      try {
        return Date.now() - statSync(lock).mtimeMs > 10_000;
      } catch {
        return false;
      }
    }
    return true;
  }
}

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The package's root folder: the nearest one above this file with a package.json. The same
 * answer from the TypeScript sources (demos/) and from the build (dist/demos/), so bundled data and
 * pages are found either way.
 */
export function packageRoot(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  throw new Error(`no package.json above ${__dirname}`);
}

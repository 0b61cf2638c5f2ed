import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command } from 'commander';

/** The package's version, read from the package.json above this file (in lib/ or dist/lib/). */
function packageVersion(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return 'unknown';
}

/** Builds the `rivulet` command line; each application adds its own subcommands. */
export function buildProgram(): Command {
  return new Command('rivulet')
    .description('Stateful stream processing on RxJS: run the bundled applications and tools.')
    .version(packageVersion());
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}

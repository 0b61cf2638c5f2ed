/**
 * `rivulet` from this build of the benchmarks, as bin/rivulet.js runs it from dist/: the command
 * timed as a user runs it, start-up included, without a separate `npm run build` first.
 */
import { main } from '../demos/cli';

main(process.argv).catch((error: unknown) => {
  process.stderr.write(`rivulet: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});

#!/usr/bin/env node
'use strict';
// The CLI is written in TypeScript and compiled to dist/ by `npm run build` (run on install).
// main() reports every error of a command itself, as one line `rivulet: ...`, and sets the exit code.
require('../dist/demos/cli.js')
  .main(process.argv)
  .catch((err) => {
    process.stderr.write(`rivulet: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });

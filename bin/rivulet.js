#!/usr/bin/env node
'use strict';
// The CLI is written in TypeScript and compiled to dist/ by `npm run build` (run on install).
require('../dist/demos/cli.js')
  .main(process.argv)
  .catch((err) => {
    // A reader that went away (`rivulet ... | head`) is not an error worth reporting.
    if (err && err.cause && err.cause.code === 'EPIPE') return;
    process.stderr.write(`rivulet: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });

#!/usr/bin/env node
// Checks the package as a user gets it: packs it, installs the tarball into a scratch project
// with its own rxjs (another 7.8.x than ours) and TypeScript, compiles a small pipeline strictly
// with skipLibCheck off, and runs it from CommonJS and from ESM (named imports of the CommonJS
// build), with rivulet/demos and the CLI. Uses the npm registry for the scratch project's
// dependencies; everything lands in one temporary directory, removed at the end.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const USER_RXJS = '7.8.1'; // not the 7.8.2 rivulet is developed with, so a second copy would show
const started = Date.now();
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function step(title) {
  process.stdout.write(`test:package: ${title} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
}

/** Runs a command; returns its output, or throws with everything it printed. */
function run(command, args, cwd, { quiet = false } = {}) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', shell: process.platform === 'win32', maxBuffer: 64 * 1024 * 1024 });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} (in ${cwd}) failed with ${result.status ?? result.signal}:\n${output}`);
  if (!quiet && output.trim() !== '') process.stdout.write(`${output.trim().replace(/^/gm, '  ')}\n`);
  return result;
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function filesUnder(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath ?? entry.path, entry.name)).split('\\').join('/'));
}

function writeFiles(dir, files) {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
}

// ---- what the user compiles and runs ----

const PIPELINE_CTS = `import assert = require('node:assert/strict');
import { from, filter, last, lastValueFrom, map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { pace, RivuletError, slidingHourWindow, topK, type Ranked } from 'rivulet';
import { parseAccessLogLine } from 'rivulet/demos';

interface Star {
  readonly repo: string;
  readonly atMs: number;
}

const t0 = Date.UTC(2015, 0, 1);
const stars: Star[] = [
  { repo: 'a/one', atMs: t0 },
  { repo: 'b/two', atMs: t0 + 60_000 },
  { repo: 'a/one', atMs: t0 + 120_000 },
  { repo: 'c/three', atMs: t0 + 25 * 3_600_000 },
];

async function main(): Promise<void> {
  // rivulet's operators between the user's own rxjs operators, in one pipe.
  const top: readonly Ranked<string>[] = await lastValueFrom(
    from(stars).pipe(
      filter((star) => star.repo !== ''),
      slidingHourWindow({ keyOf: (star: Star) => star.repo, timestampOf: (star: Star) => star.atMs }),
      topK({ k: 2, keyOf: (change) => change.key, scoreOf: (change) => change.total }),
      map((list) => list.map(({ key, score }) => ({ key, score }))),
      last(),
    ),
  );
  // After 25 hours only the last star is left in the 24-hour window.
  assert.deepEqual(top, [{ key: 'c/three', score: 1 }]);

  // One rxjs: TestScheduler.run drives rivulet's default scheduler (asyncScheduler) in virtual time.
  const scheduler = new TestScheduler((actual, expected) => assert.deepEqual(actual, expected));
  scheduler.run(({ cold, expectObservable }) => {
    const events = cold('(ab|)', { a: { t: 0 }, b: { t: 60_000 } });
    expectObservable(events.pipe(pace({ timestampOf: (e: { t: number }) => e.t, speed: 1000 }))).toBe('a 59ms (b|)', {
      a: { t: 0 },
      b: { t: 60_000 },
    });
  });

  assert.throws(() => topK({ k: 0, keyOf: String, scoreOf: Number }), (error: unknown) => error instanceof RivuletError && error.code === 'ERR_INVALID_OPTION');

  const parsed = parseAccessLogLine('64.242.88.10 - - [07/Mar/2004:16:05:49 -0800] "GET /twiki/bin/edit/Main/Double HTTP/1.1" 401 12846');
  assert.ok(parsed.ok && parsed.record.status === 401);
  console.log('commonjs: ok');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
`;

const ESM_MTS = `import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { lastValueFrom, of, toArray } from 'rxjs';
import { boundaryWindow, RivuletError, statefulScan, toJson } from 'rivulet';
import { serveDashboard, wallarooStatusOf } from 'rivulet/demos';

const require = createRequire(import.meta.url);

// Named imports of the CommonJS build, from ESM.
const windows = await lastValueFrom(
  of('200', '404', 'END', '200', 'END').pipe(
    boundaryWindow({
      isBoundary: (line: string) => line === 'END',
      seed: () => new Map<string, number>(),
      add: (counts: Map<string, number>, code: string) => counts.set(code, (counts.get(code) ?? 0) + 1),
      onComplete: 'drop',
    }),
    toArray(),
  ),
);
assert.deepEqual(
  windows.map((w) => [[...w.value], w.count, w.closedBy]),
  [
    [[['200', 1], ['404', 1]], 2, 'boundary'],
    [[['200', 1]], 1, 'boundary'],
  ],
);
assert.equal(toJson({ n: 1 }), '{"n":1}');
assert.equal(typeof statefulScan, 'function');
assert.equal(new RivuletError('ERR_FILE', 'x').code, 'ERR_FILE');
assert.equal(wallarooStatusOf('h - - [d] "GET /a HTTP/1.1" 200 5'), '200');

// The browser helper is exported; the dashboard's page is shipped and its rxjs bundle is the
// user's rxjs, not a copy of rivulet's own.
assert.match(readFileSync(require.resolve('rivulet/browser/rivuletFeed.js'), 'utf8'), /rivuletFeed/);
assert.equal(import.meta.resolve('rivulet/browser/rivuletFeed.js'), new URL('../node_modules/rivulet/lib/browser/rivuletFeed.js', import.meta.url).href);
const dashboard = await serveDashboard();
try {
  const body = (path: string) =>
    new Promise<Buffer>((resolve, reject) =>
      get(new URL(path, dashboard.url), (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(\`GET \${path}: \${res.statusCode}\`))));
      }).on('error', reject),
    );
  assert.match((await body('/')).toString('utf8'), /<html/i);
  assert.ok((await body('/vendor/rxjs.umd.min.js')).equals(readFileSync(new URL('../node_modules/rxjs/dist/bundles/rxjs.umd.min.js', import.meta.url))));
} finally {
  await dashboard.close();
}
console.log('esm: ok');
`;

// Types only, for the other module resolutions users have: bundler, and the older node10.
const TYPES_TS = `import { slidingHourWindow, topK, webSocketConnect, type Ranked } from 'rivulet';
import { parseGitHubEvent, type GitHubEvent } from 'rivulet/demos';
export const used: unknown[] = [slidingHourWindow, topK, webSocketConnect, parseGitHubEvent];
export type Used = Ranked<string> | GitHubEvent;
`;

const COMPILER_OPTIONS = { strict: true, skipLibCheck: false, target: 'ES2022', types: ['node'], noEmitOnError: true };

function scratchProject(dir) {
  writeFiles(dir, {
    'package.json': JSON.stringify({ name: 'rivulet-package-check', version: '1.0.0', private: true, type: 'commonjs' }, null, 2),
    'src/pipeline.cts': PIPELINE_CTS,
    'src/esm.mts': ESM_MTS,
    'src/types.ts': TYPES_TS,
    'tsconfig.json': JSON.stringify({ compilerOptions: { ...COMPILER_OPTIONS, module: 'node16', moduleResolution: 'node16', outDir: 'out' }, include: ['src'] }),
    'tsconfig.bundler.json': JSON.stringify({ compilerOptions: { ...COMPILER_OPTIONS, module: 'preserve', moduleResolution: 'bundler', noEmit: true }, files: ['src/types.ts'] }),
    'tsconfig.node10.json': JSON.stringify({ compilerOptions: { ...COMPILER_OPTIONS, module: 'commonjs', moduleResolution: 'node10', noEmit: true }, files: ['src/types.ts'] }),
  });
}

// ---- the check ----

const work = mkdtempSync(join(tmpdir(), 'rivulet-package-'));
try {
  step('packing (prepack builds dist/ afresh)');
  run(npm, ['pack', '--pack-destination', work, '--loglevel', 'warn'], ROOT, { quiet: true });
  const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'));
  check(tarball !== undefined, `npm pack left no tarball in ${work}`);

  step(`installing ${tarball} with rxjs@${USER_RXJS} into a scratch project`);
  const app = join(work, 'app');
  scratchProject(app);
  const install = run(npm, ['install', '--no-audit', '--no-fund', '--loglevel', 'warn', join(work, tarball), `rxjs@${USER_RXJS}`, 'typescript@~5.9', '@types/node@20'], app);
  check(!/install-scripts/.test(`${install.stdout}${install.stderr}`), 'installing the tarball listed install scripts (users would be asked to approve them)');

  step('checking what was installed');
  const rxjsCopies = filesUnder(join(app, 'node_modules')).filter((f) => /(^|\/)rxjs\/package\.json$/.test(f));
  check(rxjsCopies.length === 1 && rxjsCopies[0] === 'rxjs/package.json', `expected the user's rxjs only, found ${rxjsCopies.join(', ')}`);
  check(JSON.parse(readFileSync(join(app, 'node_modules', 'rxjs', 'package.json'), 'utf8')).version === USER_RXJS, `rxjs is not ${USER_RXJS}`);
  const installed = join(app, 'node_modules', 'rivulet');
  // What the tarball held: the package's own files, not dependencies npm nested under it.
  const files = filesUnder(installed).filter((f) => !f.startsWith('node_modules/'));
  for (const needed of ['LICENSE', 'README.md', 'package.json', 'bin/rivulet.js', 'dist/index.js', 'dist/index.d.ts', 'dist/demos/index.js', 'dist/demos/cli.js', 'lib/browser/rivuletFeed.js', 'demos/starLeaders/dashboard/index.html']) {
    check(files.includes(needed), `the package lacks ${needed}`);
  }
  check(files.some((f) => f.startsWith('demos/data/')), 'the package lacks the bundled data (demos/data)');
  const unwanted = files.filter((f) => /^(bench|dist-bench|spec|scripts|operators|lib\/(?!browser\/rivuletFeed\.js$))|^dist\/bench\/|\.spec\.|(?<!\.d)\.ts$/.test(f));
  check(unwanted.length === 0, `the package ships files users do not need: ${unwanted.join(', ')}`);
  const maps = files.filter((f) => f.endsWith('.js.map'));
  check(maps.length > 0, 'no source maps in dist/');
  for (const map of maps) {
    const { sources, sourcesContent } = JSON.parse(readFileSync(join(installed, map), 'utf8'));
    check(Array.isArray(sourcesContent) && sourcesContent.length === sources.length && sourcesContent.every((s) => typeof s === 'string'), `${map} points to sources that are not shipped`);
  }

  step('compiling strictly with skipLibCheck false (node16, bundler, node10 resolution)');
  const tsc = join(app, 'node_modules', 'typescript', 'bin', 'tsc');
  run(process.execPath, [tsc, '-p', 'tsconfig.json'], app);
  run(process.execPath, [tsc, '-p', 'tsconfig.bundler.json'], app);
  run(process.execPath, [tsc, '-p', 'tsconfig.node10.json'], app);

  step('running the pipeline from CommonJS and from ESM');
  check(run(process.execPath, ['out/pipeline.cjs'], app, { quiet: true }).stdout.trim() === 'commonjs: ok', 'the CommonJS program did not finish');
  check(run(process.execPath, ['out/esm.mjs'], app, { quiet: true }).stdout.trim() === 'esm: ok', 'the ESM program did not finish');

  step('running the installed CLI on its bundled data');
  const cli = run(process.execPath, [join(installed, 'bin', 'rivulet.js'), 'log-counts', '--compat', 'wallaroo'], app, { quiet: true });
  // The original application's first window (day_1.log), compared as an object.
  assert.deepStrictEqual(JSON.parse(cli.stdout.split('\n')[0]), { 200: 143, 404: 1, null: 4, 401: 48 });

  step('passed');
} finally {
  rmSync(work, { recursive: true, force: true });
}

/**
 * The import rule, checked by `npm test` (`npm run lint:deps`): demos -> index.ts -> operators ->
 * lib, never back; inside lib everything points towards lib/core, which imports nothing local.
 * Type-only imports count (tsPreCompilationDeps), and no cycles are allowed at all.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', comment: 'No import cycles, type-only ones included.', from: {}, to: { circular: true } },
    {
      name: 'lib-is-the-bottom',
      severity: 'error',
      comment: 'lib/ is used by operators/ and demos/, never the other way round.',
      from: { path: '^lib/' },
      to: { path: '^(operators|demos|bench|spec)/|^index\\.ts$' },
    },
    {
      name: 'core-imports-nothing-local',
      severity: 'error',
      comment: 'lib/core/ is the base of lib/: it imports nothing else of the project.',
      from: { path: '^lib/core/' },
      to: { path: '^(lib/(?!core/)|operators/|demos/|index\\.ts)' },
    },
    {
      name: 'lib-folders-point-to-core',
      severity: 'error',
      comment: 'windowing, partitioning and io stand side by side: each may import lib/core only.',
      from: { path: '^lib/(windowing|partitioning|io)/' },
      to: { path: '^lib/(?!core/)', pathNot: '^lib/$1/' },
    },
    {
      name: 'distributed-builds-on-lib',
      severity: 'error',
      comment: 'lib/distributed runs pipelines over Redis: it builds on the rest of lib (the future bound of windowing included), never on operators or the applications.',
      from: { path: '^lib/distributed/' },
      to: { path: '^(lib/(?!(core|state|partitioning|io|windowing|distributed)/)|operators/|demos/|bench/|spec/|index\\.ts$)' },
    },
    {
      name: 'operators-below-the-entry',
      severity: 'error',
      comment: 'operators/ uses lib/ and each other, never the package entry or the applications.',
      from: { path: '^operators/' },
      to: { path: '^(demos|bench|spec)/|^index\\.ts$' },
    },
    {
      name: 'entry-is-the-library',
      severity: 'error',
      comment: 'index.ts publishes the library only: no application code.',
      from: { path: '^index\\.ts$' },
      to: { path: '^(demos|bench|spec)/' },
    },
    {
      name: 'demos-use-the-entry',
      severity: 'error',
      comment: 'The applications use the library as users do: through index.ts, not its files.',
      from: { path: '^demos/' },
      to: { path: '^(lib|operators|bench|spec)/' },
    },
    {
      name: 'nothing-imports-bench',
      severity: 'error',
      comment: 'Benchmarks are not shipped: nothing but bench/ may import them.',
      from: { pathNot: '^bench/' },
      to: { path: '^bench/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};

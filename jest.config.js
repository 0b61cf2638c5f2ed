/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/spec'],
  testMatch: ['**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', '\\.redis\\.spec\\.ts$'], // Redis suites: npm run test:redis
  // Type checking is done once by `tsc --noEmit` in `npm test`; jest only transpiles.
  transform: { '^.+\\.ts$': 'ts-jest' },
  moduleNameMapper: { '^rivulet$': '<rootDir>/index.ts', '^rivulet/demos$': '<rootDir>/demos/index.ts' },
  testTimeout: 20000,
};

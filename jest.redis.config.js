/**
 * The suites that need real Redis servers (`npm run test:redis`; redis-server and redis-cli on
 * PATH). They start and stop their own servers, and run the CLI as child processes from the
 * build, which the global setup makes first. One suite at a time: leases and takeovers are timed
 * in real time, and this machine has two cores.
 */
const base = require('./jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  testMatch: ['**/*.redis.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  globalSetup: '<rootDir>/spec/support/redisGlobalSetup.ts',
  maxWorkers: 1,
  testTimeout: 120000,
};

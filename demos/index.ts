/**
 * The applications bundled with rivulet (`rivulet/demos`): Wallaroo's log-counting and GitHub
 * star-leaders examples, rebuilt on the library, with their parsers and the dashboard server.
 */
export * from './logCounts/logCounts';
export * from './logCounts/accessLog';
export * from './starLeaders/starLeaders';
export * from './starLeaders/githubEvents';
export * from './starLeaders/dashboardServer';
export { formatLeaderboard, BUNDLED_ARCHIVE } from './starLeaders/cli';
export { main } from './cli';
export * from './logCounts/dashboardFeed';

/**
 * rivulet: stateful stream processing on RxJS.
 *
 * Operators (keyed partitions, per-key state, event-time and boundary windows, top-K) compose
 * with `pipe()`; sources and sinks connect pipelines to TCP, WebSocket and files.
 */
export * from './operators';
export * from './lib/errors';
export * from './lib/flowGate';
export * from './lib/partitioners';
export * from './lib/windowing';
export * from './lib/framing';
export * from './lib/tcpSource';
export * from './lib/tcpSink';
export * from './lib/webSocketServer';
export * from './lib/webSocketClient';
export * from './lib/files';
export * from './lib/accessLog';
export * from './lib/topRanking';
export * from './lib/githubEvents';
export * from './lib/json';
export * from './lib/writeLines';
export * from './lib/socketAddress';
export * from './lib/duration';
export * from './lib/dashboardServer';

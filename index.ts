/**
 * rivulet: stateful stream processing on RxJS.
 *
 * Operators (keyed partitions, per-key state, event-time and boundary windows, top-K) compose
 * with `pipe()`; sources and sinks connect pipelines to TCP, WebSocket and files. This entry is
 * the library only: the bundled applications are in `rivulet/demos`.
 */
export * from './operators';

export { RivuletError } from './lib/core/errors';
export type { RivuletErrorCode } from './lib/core/errors';
export { FlowGate } from './lib/core/flowGate';
export type { Ranked } from './lib/core/topRanking';
export { toJson } from './lib/core/json';
export { parseDuration } from './lib/core/duration';

export { fixedPanes, calendarDays } from './lib/windowing/panes';
export type { PaneAssigner } from './lib/windowing/panes';
export { counting, countingBy } from './lib/windowing/aggregators';
export type { Aggregator } from './lib/windowing/aggregators';
export { windowStats } from './lib/windowing/windowClock';
export type { EventTimeOptions, WindowStats } from './lib/windowing/windowClock';

export { perKey, hashMod, wallarooHashRing } from './lib/partitioning/partitioners';
export type { Partitioner } from './lib/partitioning/partitioners';

export * from './lib/io/framing';
export { parseSocketAddress, formatSocketAddress } from './lib/io/socketAddress';
export type { SocketAddress } from './lib/io/socketAddress';
export * from './lib/io/tcpSource';
export * from './lib/io/tcpSink';
export * from './lib/io/webSocketServer';
export * from './lib/io/webSocketClient';
export * from './lib/io/liveView';
export { fileLines } from './lib/io/files';
export type { FileLine, FileLinesOptions, FileLinesWithMarkers, FileProgress } from './lib/io/files';
export { jsonMemberFilter } from './lib/io/lineFilter';
export type { LineFilter } from './lib/io/lineFilter';
export * from './lib/io/writeLines';

export { StateScope, withStateScope, currentStateScope, joinScope, refuseCheckpoint } from './lib/state/scope';
export type { StateCell, CellSnapshot, ScopeSnapshot } from './lib/state/scope';
export { encodeCheckpoint, decodeCheckpoint } from './lib/state/codec';
export type { Checkpoint } from './lib/state/codec';
export type { CheckpointStore, CompletedRun, Failure, DeadLetterRecord } from './lib/state/store';
export { directoryStore } from './lib/state/directoryStore';
export type { Positioned, PositionedSource, RewindableSink } from './lib/state/positions';
export { positionedFileLines } from './lib/state/fileSource';
export type { FilePosition, PositionedFileLinesOptions } from './lib/state/fileSource';
export { fileOutput } from './lib/state/fileOutput';
export { streamOutput } from './lib/state/streamOutput';
export { runCheckpointed } from './lib/state/runner';
export type { CheckpointedRunOptions, RunEvent } from './lib/state/runner';

// Scale-out: a partitioned pipeline on several worker processes over Redis (lib/distributed).
export { distributedApp } from './lib/distributed/app';
export type { DistributedApp, DistributedAppOptions, DistributedContext, PartitionId } from './lib/distributed/app';
export { connectRedis, closeRedis, parseRedisTarget, describeRedisTarget } from './lib/distributed/connection';
export type { RedisClient, RedisTarget, ConnectOptions } from './lib/distributed/connection';
export { partitionTags, partitionKeys, appKeys, keySlot, crc16 } from './lib/distributed/keys';
export type { PartitionKeys, AppKeys } from './lib/distributed/keys';
export { readSettings, waitForSettings, publishSettings, checkSettings } from './lib/distributed/settings';
export type { DistributedSettings } from './lib/distributed/settings';
export { route, readRouterProgress } from './lib/distributed/router';
export type { RouteOptions, RouteEvent, RouteSummary } from './lib/distributed/router';
export { runWorker } from './lib/distributed/worker';
export type { WorkerOptions, WorkerEvent } from './lib/distributed/worker';
export { readResults } from './lib/distributed/results';
export type { ResultRecord, ReadResultsOptions, WaitStatus } from './lib/distributed/results';

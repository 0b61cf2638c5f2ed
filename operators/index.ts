export * from './boundaryWindow';
export * from './pace';
export * from './partitionBy';
export * from './slidingHourWindow';
export * from './slidingWindow';
export * from './statefulScan';
export * from './topK';
export * from './tumblingWindow';

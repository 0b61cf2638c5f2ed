import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { closeRedis, connectRedis, FlowGate, partitionBy, readResults, route, runWorker } from 'rivulet';
import { archiveEvents, busiestRepos, busiestReposApp } from '../../demos/distributedExample';
import { startRedis } from '../support/redis';

const FILES = ['2015-01-01-0.json.gz', '2015-01-01-1.json.gz'].map((f) => join(__dirname, '..', '..', 'demos', 'data', 'gharchive', f));

it('the README example: a user pipeline on two workers emits, per partition, what partitionBy emits in one process', async () => {
  const redis = await startRedis();
  const client = connectRedis({ url: redis.url });
  const stop = new AbortController();
  const workerClients = [connectRedis({ url: redis.url }), connectRedis({ url: redis.url })];
  try {
    const workers = workerClients.map((c) => runWorker(c, busiestReposApp, { leaseMs: 1000, signal: stop.signal }));
    const summary = await route(client, busiestReposApp, { inputId: 'sample', source: archiveEvents(FILES) });
    expect(summary).toMatchObject({ outcome: 'routed', values: 15129 });
    const distributed = await lastValueFrom(readResults(client, busiestReposApp).pipe(toArray()));
    const oneProcess = await lastValueFrom(archiveEvents(FILES)(new FlowGate()).pipe(partitionBy(busiestRepos), toArray()));
    expect(distributed.every((r) => r.value.partition === r.partition)).toBe(true);
    const group = (outputs: Array<{ partition: number; top: unknown }>) => {
      const out = new Map<number, unknown[]>();
      for (const { partition, top } of outputs) out.set(partition, [...(out.get(partition) ?? []), top]);
      return new Map([...out].sort((a, b) => a[0] - b[0]));
    };
    expect(oneProcess.length).toBeGreaterThan(100);
    expect(group(distributed.map((r) => r.value))).toEqual(group(oneProcess));
    stop.abort();
    await Promise.all(workers);
  } finally {
    stop.abort();
    await Promise.all(workerClients.map(closeRedis));
    await closeRedis(client);
    await redis.destroy();
  }
});

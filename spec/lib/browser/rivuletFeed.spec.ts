import { readFileSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createContext, runInContext } from 'node:vm';
import { Observable, Subject, Subscription } from 'rxjs';
import { WebSocket } from 'ws';
import { BroadcastSink, webSocketBroadcast } from 'rivulet';
import { Collector } from '../io/tcpTestKit';

const RXJS_UMD = readFileSync(join(__dirname, '../../../node_modules/rxjs/dist/bundles/rxjs.umd.min.js'), 'utf8');
const HELPER = readFileSync(join(__dirname, '../../../lib/browser/rivuletFeed.js'), 'utf8');

type Feed = (url: string, options?: object) => Observable<unknown>;

/**
 * A page-like global scope: a WebSocket class and timers, but no require, module or process, so
 * the helper runs exactly as it would after two <script> tags.
 */
function loadPage(): Feed {
  const page = createContext({ WebSocket, setTimeout, clearTimeout, setInterval, clearInterval, console });
  runInContext(RXJS_UMD, page);
  runInContext(HELPER, page);
  return page.rivuletFeed as Feed;
}

// Servers and page subscriptions a test opened; closed after each test, passed or failed.
let opened = new Subscription();

function serve<T>(source: Observable<T>, port = 0, replayLatest = 0) {
  return new Promise<{ port: number; sink: BroadcastSink<T>; subscription: Subscription }>((resolve) => {
    const sink: BroadcastSink<T> = webSocketBroadcast<T>({ port, replayLatest, onListening: (a: AddressInfo) => resolve({ port: a.port, sink, subscription }) });
    const subscription = source.pipe(sink).subscribe();
    opened.add(subscription);
  });
}

describe('rivuletFeed (browser helper)', () => {
  afterEach(() => {
    opened.unsubscribe();
    opened = new Subscription();
  });
  it('has no Node dependencies and parses every message as JSON, completing on close 1000', async () => {
    expect(HELPER).not.toMatch(/\brequire\s*\(|\bprocess\.|\bimport\b/);
    const rivuletFeed = loadPage();
    const source = new Subject<{ repo: string; stars: number }>();
    const server = await serve(source);
    const received: unknown[] = [];
    const statuses = new Collector<string>();
    const completed = new Promise<void>((resolve) => {
      opened.add(rivuletFeed(`ws://127.0.0.1:${server.port}`, { onStatus: statuses.add }).subscribe({ next: (m) => received.push(m), complete: resolve }));
    });
    await statuses.until(1);
    expect(statuses.values).toEqual(['open']);
    source.next({ repo: 'a/b', stars: 3 });
    source.next({ repo: '<img src=x>', stars: 1 });
    source.complete();
    await completed;
    expect(received).toEqual([
      { repo: 'a/b', stars: 3 },
      { repo: '<img src=x>', stars: 1 },
    ]);
  });

  it('reconnects with backoff when the server goes away, and receives the replay of the new server', async () => {
    const rivuletFeed = loadPage();
    const first = new Subject<string>();
    const server = await serve(first, 0, 1);
    const received = new Collector<unknown>();
    const statuses = new Collector<[string, unknown]>();
    const page = rivuletFeed(`ws://127.0.0.1:${server.port}`, { initialDelayMs: 20, onStatus: (s: string, d: unknown) => statuses.add([s, d]) }).subscribe(received.add);
    opened.add(page);
    await statuses.until(1);
    first.next('before');
    await received.until(1);

    server.subscription.unsubscribe(); // closes the page with 1001
    await statuses.when(() => statuses.values.some(([s]) => s === 'reconnecting'));
    const second = new Subject<string>();
    const restarted = await serve(second, server.port, 1);
    second.next('state after restart');
    await received.until(2);
    expect(received.values).toEqual(['before', 'state after restart']);
    expect(statuses.values[0]).toEqual(['open', undefined]);
    expect(statuses.values).toContainEqual(['closed', 1001]);
    expect(statuses.values.filter(([s]) => s === 'open').length).toBe(2);
    page.unsubscribe();
    restarted.subscription.unsubscribe();
  });
});

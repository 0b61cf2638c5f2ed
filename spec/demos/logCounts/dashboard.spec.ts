import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { Subject, Subscription } from 'rxjs';
import { Browser, BrowserContext, Page } from 'playwright-core';
import { LiveView, serveLiveView } from 'rivulet';
import { logCountsPage, type LogCountsMessage } from '../../../demos/logCounts/dashboardFeed';
import { launchBrowser, openDashboard, type DomElement } from '../../support/browser';
import { runCli, stopCliRuns } from '../../support/cli';
import { WALLAROO_DAYS as DAYS } from '../../support/data';

// The callbacks given to page.evaluate run in the browser; the DOM they touch is declared here.
declare const document: DomElement & { getElementById(id: string): DomElement | null };
declare const window: { Chart: { getChart(canvas: unknown): any } };

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Status codes per day, read from the lines by hand: the log's own date and the field after the request. */
function naiveCounts(lines: readonly string[]): Map<string, Record<string, number>> {
  const days = new Map<string, Record<string, number>>();
  for (const line of lines) {
    const m = /^\S+ \S+ \S+ \[(\d{2})\/(\w{3})\/(\d{4}):[^\]]*\] "[^"]*" (\d{3}) /.exec(line);
    if (m === null) throw new Error(`not a log line: ${line}`);
    const day = `${m[3]}-${String(MONTHS.indexOf(m[2]) + 1).padStart(2, '0')}-${m[1]}`;
    const counts = days.get(day) ?? {};
    counts[m[4]] = (counts[m[4]] ?? 0) + 1;
    days.set(day, counts);
  }
  return days;
}

const linesOf = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');

interface ShownDay {
  day: string | null;
  window: string;
  lines: string;
  unparsed: string;
}

/** The table as the user sees it, newest day first. */
function readTable(page: Page): Promise<ShownDay[]> {
  return page.$$eval('#days tbody tr', (rows: DomElement[]) =>
    rows.map((row) => ({
      day: row.getAttribute('data-day'),
      window: row.querySelector('td.window')?.textContent ?? '',
      lines: row.querySelector('td.lines')?.textContent ?? '',
      unparsed: row.querySelector('td.unparsed')?.textContent ?? '',
    })),
  );
}

interface ShownChart {
  /** day -> status code -> bar height. */
  days: Record<string, Record<string, number>>;
  tickLabels: string[];
  stacked: boolean;
}

/** The chart's data, read from chart.js itself (zero-height segments left out). */
function readChart(page: Page): Promise<ShownChart> {
  return page.evaluate(() => {
    const chart = window.Chart.getChart(document.getElementById('chart'));
    const days: Record<string, Record<string, number>> = {};
    (chart.data.labels as string[]).forEach((day, i) => {
      days[day] = {};
      for (const dataset of chart.data.datasets as Array<{ label: string; data: number[] }>) if (dataset.data[i] > 0) days[day][dataset.label] = dataset.data[i];
    });
    const tickLabels = (chart.scales.x.ticks as Array<{ label: string }>).map((tick) => tick.label);
    return { days, tickLabels, stacked: chart.options.scales.x.stacked === true && chart.options.scales.y.stacked === true };
  });
}

/** Waits until the table shows `day` with `lines` lines and the given window state. */
async function waitForDay(page: Page, day: string, lines: number, window: 'open' | 'closed'): Promise<void> {
  await page.waitForFunction(
    ([d, n, w]) => {
      const row = document.querySelector(`#days tbody tr[data-day="${d}"]`);
      return row !== null && row.querySelector('td.lines')?.textContent === n && row.querySelector('td.window')?.textContent === w;
    },
    [day, n(lines), window] as const,
    { timeout: 15_000 },
  );
}

const n = (value: number) => value.toLocaleString('en-US');

/** Sends lines as the original sender did: 4-byte big-endian length-prefixed frames. */
async function sendFrames(socket: Socket, frames: readonly string[]): Promise<void> {
  const chunks = frames.map((frame) => {
    const body = Buffer.from(`${frame}\n`, 'utf8');
    const header = Buffer.alloc(4);
    header.writeUInt32BE(body.length);
    return Buffer.concat([header, body]);
  });
  if (!socket.write(Buffer.concat(chunks))) await once(socket, 'drain');
}

describe('log-counts --dashboard, in headless chromium', () => {
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const sockets: Socket[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
  }, 60_000);

  afterEach(async () => {
    sockets.splice(0).forEach((s) => s.destroy());
    await Promise.all(contexts.splice(0).map((c) => c.close()));
    await stopCliRuns();
  });

  afterAll(async () => {
    await browser?.close();
  });

  async function open(url: string) {
    const opened = await openDashboard(browser, url);
    contexts.push(opened.context);
    return opened;
  }

  it('grows the open day as lines arrive, holds the report once the window closes, and gives a late page the same chart', async () => {
    const app = runCli(['log-counts', '--listen', '127.0.0.1:0', '--dashboard', '127.0.0.1:0']);
    const [, url] = await app.stderrLine(/dashboard at (\S+)/);
    const [, port] = await app.stderrLine(/listening on 127\.0\.0\.1:(\d+)/);
    const { page, incidents } = await open(url);
    const sender = connect(Number(port), '127.0.0.1');
    sockets.push(sender);
    await once(sender, 'connect');

    const day1 = linesOf(DAYS[0]);
    const half = day1.slice(0, 100);
    await sendFrames(sender, half);
    await waitForDay(page, '2004-03-07', 100, 'open');
    let chart = await readChart(page);
    expect(chart.days).toEqual(Object.fromEntries(naiveCounts(half)));
    expect(chart.stacked).toBe(true);
    expect(chart.tickLabels).toEqual(['2004-03-07 (open)']);

    await sendFrames(sender, [...day1.slice(100), 'END_OF_DAY']);
    await waitForDay(page, '2004-03-07', day1.length, 'closed');
    chart = await readChart(page);
    expect(chart.days).toEqual({ '2004-03-07': { '200': 147, '401': 48, '404': 1 } });
    expect(chart.days).toEqual(Object.fromEntries(naiveCounts(day1)));
    expect(chart.tickLabels).toEqual(['2004-03-07']);

    const day2 = linesOf(DAYS[1]);
    await sendFrames(sender, [...day2, 'END_OF_DAY']);
    await waitForDay(page, '2004-03-08', day2.length, 'closed');
    const expected = Object.fromEntries(naiveCounts([...day1, ...day2]));
    expect((await readChart(page)).days).toEqual(expected);
    expect(await readTable(page)).toEqual([
      { day: '2004-03-08', window: 'closed', lines: n(day2.length), unparsed: '0' },
      { day: '2004-03-07', window: 'closed', lines: '196', unparsed: '0' },
    ]);

    // A page opened now gets the whole state at once.
    const late = await open(url);
    await waitForDay(late.page, '2004-03-08', day2.length, 'closed');
    expect((await readChart(late.page)).days).toEqual(expected);
    expect(await readTable(late.page)).toEqual(await readTable(page));
    expect(incidents).toEqual({ dialogs: [], consoleErrors: [], pageErrors: [] });
    expect(late.incidents).toEqual({ dialogs: [], consoleErrors: [], pageErrors: [] });

    app.stop();
    // Without --print, the dashboard replaces the JSON on stdout.
    expect((await app.done).stdout).toBe('');
  });

  it('shows every day of the files, says when the input has ended, and prints with --print', async () => {
    const app = runCli(['log-counts', '--dashboard', '127.0.0.1:0', '--print']);
    const [, url] = await app.stderrLine(/dashboard at (\S+)/);
    const all = DAYS.flatMap(linesOf);
    await app.stderrLine(new RegExp(`log-counts: input finished: ${all.length} lines; serving until Ctrl\\+C`));
    const { page, incidents } = await open(url);
    const expected = Object.fromEntries(naiveCounts(all));
    expect(Object.keys(expected)).toHaveLength(6);
    await page.waitForFunction(() => document.querySelectorAll('#days tbody tr[data-open="false"]').length === 6, undefined, { timeout: 15_000 });
    expect((await readChart(page)).days).toEqual(expected);
    expect(await page.textContent('#stat-lines')).toBe(n(all.length));
    expect(await page.textContent('#stat-input')).toBe('finished');
    expect(incidents).toEqual({ dialogs: [], consoleErrors: [], pageErrors: [] });

    app.stop();
    const printed = (await app.done).stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { day: string; counts: Record<string, number> });
    expect(printed.map((r) => [r.day, r.counts])).toEqual(Object.entries(expected));
  });

  it('refuses --compat wallaroo, which has no days', async () => {
    await expect(runCli(['log-counts', '--dashboard', '127.0.0.1:0', '--compat', 'wallaroo']).done).rejects.toThrow("option '--compat <app>' cannot be used with option '--dashboard <host:port>'");
  });
});

describe('the log-counts page', () => {
  let browser: Browser;
  let context: BrowserContext | undefined;
  let subscription: Subscription | undefined;
  let view: LiveView | undefined;

  beforeAll(async () => {
    browser = await launchBrowser();
  }, 60_000);

  afterEach(async () => {
    await context?.close();
    context = undefined;
    subscription?.unsubscribe();
    await view?.closed;
    view = undefined;
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('draws only what has the shape of a day and a status code, and keeps drawing', async () => {
    const feed = new Subject<LogCountsMessage>();
    view = await new Promise<LiveView>((resolve, reject) => {
      subscription = serveLiveView({ page: logCountsPage(), feeds: { '/feed': { source: feed } } }).subscribe({ next: resolve, error: reject });
    });
    const opened = await openDashboard(browser, view.url);
    context = opened.context;
    const { page, incidents } = opened;
    const day = (d: string, counts: Array<[string, number]>, open = false): LogCountsMessage => ({ type: 'day', day: d, counts, lines: 1, unparsed: 0, open });
    feed.next(day('<img src=x onerror=alert(1)>', [['200', 1]]));
    feed.next({ type: 'day', day: '2004-03-01', counts: { '200': 5 }, lines: 5, unparsed: 0, open: false } as unknown as LogCountsMessage);
    feed.next(day('2004-03-02', [['<b>', 3], ['__proto__', 4], ['200', -1], ['404', 2]]));
    feed.next(day('2004-03-03', [['200', 7]], true));
    await waitForDay(page, '2004-03-03', 1, 'open');
    expect((await readChart(page)).days).toEqual({ '2004-03-02': { '404': 2 }, '2004-03-03': { '200': 7 } });
    expect((await readTable(page)).map((row) => row.day)).toEqual(['2004-03-03', '2004-03-02']);
    expect(await page.$$('img, b')).toHaveLength(0);
    expect(incidents).toEqual({ dialogs: [], consoleErrors: [], pageErrors: [] });
  });
});

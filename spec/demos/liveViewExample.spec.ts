import { Subscription } from 'rxjs';
import { Browser, BrowserContext, Page } from 'playwright-core';
import type { LiveView } from 'rivulet';
import { memoryView } from '../../demos/liveViewExample';
import { launchBrowser, type DomElement } from '../support/browser';

declare const document: DomElement & { getElementById(id: string): DomElement | null };
declare const window: { Chart: { getChart(canvas: unknown): any } };

/** The line's points, read from chart.js itself. */
function readPoints(page: Page): Promise<Array<[number, number]>> {
  return page.evaluate(() => {
    const chart = window.Chart.getChart(document.getElementById('chart'));
    return (chart.data.datasets[0].data as Array<{ x: number; y: number }>).map((p): [number, number] => [p.x, p.y]);
  });
}

function waitForPoints(page: Page, count: number): Promise<unknown> {
  return page.waitForFunction((n) => window.Chart.getChart(document.getElementById('chart'))?.data.datasets[0].data.length >= n, count, { timeout: 15_000 });
}

describe('the README live view example, in headless chromium', () => {
  let browser: Browser;
  let subscription: Subscription | undefined;
  let view: LiveView | undefined;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
  }, 60_000);

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
    subscription?.unsubscribe();
    await view?.closed;
  });

  afterAll(async () => {
    await browser?.close();
  });

  async function openPage(url: string) {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    await page.goto(url);
    return { page, problems };
  }

  it("draws the process's heap as it is measured, and a page opened later starts with the points before it", async () => {
    view = await new Promise<LiveView>((resolve, reject) => {
      // Port 0 and a reading every 50 ms instead of the example's 8080 and 1 s.
      subscription = memoryView(0, 50).subscribe({ next: resolve, error: reject });
    });
    const first = await openPage(view.url);
    await waitForPoints(first.page, 5);
    const before = await readPoints(first.page);
    for (const [at, heapMiB] of before) {
      expect(Number.isInteger(at)).toBe(true);
      expect(heapMiB).toBeGreaterThan(0);
    }
    // Times only grow: one line, drawn left to right.
    expect(before.map(([at]) => at)).toEqual([...before.map(([at]) => at)].sort((a, b) => a - b));
    expect(await first.page.textContent('#latest')).toMatch(/^\d+\.\d MiB$/);

    const second = await openPage(view.url);
    await waitForPoints(second.page, before.length);
    const replayed = await readPoints(second.page);
    // The replay holds every point the first page had (the first ones, as the server kept them).
    expect(replayed.slice(0, before.length)).toEqual(before);
    expect(first.problems).toEqual([]);
    expect(second.problems).toEqual([]);
  });
});

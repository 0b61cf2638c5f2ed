import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { Browser, Page } from 'playwright-core';
import { runCli, stopCliRuns, type CliRun } from '../../support/cli';
import { launchBrowser, openDashboard, readLeaders, waitForLeaders, type DomElement } from '../../support/browser';
import { GH_ARCHIVE_HOURS as HOURS } from '../../support/data';

declare const document: DomElement & { getElementById(id: string): DomElement | null };
declare const window: { Chart: { getChart(canvas: unknown): any }; seenStats?: Array<[string, string, string]>; MutationObserver: any };

const INTERESTING = new Set(['WatchEvent', 'ForkEvent', 'PullRequestEvent']);

/** The chart's lines, read from chart.js itself. */
function readChart(page: Page): Promise<Array<{ label: string; points: Array<[number, number]> }>> {
  return page.evaluate(() => {
    const chart = window.Chart.getChart(document.getElementById('chart'));
    return (chart.data.datasets as Array<{ label: string; data: Array<{ x: number; y: number }> }>).map((dataset) => ({
      label: dataset.label,
      points: dataset.data.map((point): [number, number] => [point.x, point.y]),
    }));
  });
}

const archiveLines = () => HOURS.flatMap((file) => gunzipSync(readFileSync(file)).toString('utf8').split('\n').filter((l) => l !== ''));

/** The global top 10 by a naive count of stars, ties by repo name in code-unit order. */
function naiveTop10(lines: string[]): Array<[string, number]> {
  const stars = new Map<string, number>();
  for (const line of lines) {
    const e = JSON.parse(line) as { type: string; repo: { name: string } };
    if (e.type === 'WatchEvent') stars.set(e.repo.name, (stars.get(e.repo.name) ?? 0) + 1);
  }
  return [...stars].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0)).slice(0, 10);
}

async function send(socket: Socket, lines: string[]): Promise<void> {
  if (!socket.write(lines.join('\n') + '\n')) await once(socket, 'drain');
}

describe('star-leaders --dashboard, end to end in headless chromium', () => {
  let browser: Browser;
  let app: CliRun;
  let sender: Socket;
  let dashboardUrl: string;

  beforeAll(async () => {
    browser = await launchBrowser();
    app = runCli(['star-leaders', '--listen', '127.0.0.1:0', '--dashboard', '127.0.0.1:0', '--format', 'table']);
    [, dashboardUrl] = await app.stderrLine(/dashboard at (\S+)/);
    const [, port] = await app.stderrLine(/listening on 127\.0\.0\.1:(\d+)/);
    sender = connect(Number(port), '127.0.0.1');
    await once(sender, 'connect');
  }, 60_000);

  afterAll(async () => {
    sender?.destroy();
    await stopCliRuns();
    await browser?.close();
  });

  it('shows the true top 10 after a replay, updates on new events, and renders hostile text as text', async () => {
    const { context, page, incidents } = await openDashboard(browser, dashboardUrl);
    const lines = archiveLines();
    await send(sender, lines);

    const expected = naiveTop10(lines);
    await waitForLeaders(page, expected.map(([repo]) => repo));
    expect((await readLeaders(page)).map((row) => [row.repo, Number(row.stars)])).toEqual(expected);

    // A page opened after the replay draws the lines the watching page drew, not one point each.
    const watched = await readChart(page);
    expect(watched.map((line) => line.label)).toEqual(expected.map(([repo]) => repo));
    expect(watched[0].points.length).toBeGreaterThan(5);
    expect(watched[0].points[watched[0].points.length - 1][1]).toBe(expected[0][1]);
    const late = await openDashboard(browser, dashboardUrl);
    try {
      await waitForLeaders(late.page, expected.map(([repo]) => repo));
      expect(await readChart(late.page)).toEqual(watched);
    } finally {
      await late.context.close();
    }

    // A new repo takes the lead within the same event hour, then gets a pull request with a
    // hostile title; the next star makes the partition emit the annotated list.
    const repo = 'attacker/<b>bold</b>';
    const at = (s: number) => `2015-01-01T01:59:${String(s).padStart(2, '0')}Z`;
    const star = (s: number) => JSON.stringify({ type: 'WatchEvent', repo: { name: repo }, actor: { login: 'a' }, created_at: at(s) });
    const stars = Array.from({ length: 25 }, (_, i) => star(i % 50));
    const pr = JSON.stringify({
      type: 'PullRequestEvent',
      repo: { name: repo },
      actor: { login: 'mallory' },
      created_at: at(55),
      payload: { number: 1, pull_request: { title: '<img src=x onerror=alert(1)>', html_url: 'javascript:alert(1)' } },
    });
    await send(sender, [...stars, pr, star(58)]);

    await page.waitForFunction((name) => document.querySelector('#leaders tbody tr')?.getAttribute('data-repo') === name, repo, { timeout: 15_000 });
    await page.waitForFunction(() => (document.querySelector('#leaders tbody tr td.recent')?.textContent ?? '').includes('Pull request'), undefined, {
      timeout: 15_000,
    });
    const [first] = await readLeaders(page);
    expect(first.name).toContain('attacker/<b>bold</b>');
    expect(first.stars).toBe('26');
    expect(first.recent.map((r) => r.text)).toEqual(['Pull request #1: <img src=x onerror=alert(1)>']);
    expect(first.recent[0].href).toBeNull();
    expect(await page.$$('#leaders img, #leaders b')).toHaveLength(0);
    expect(incidents.dialogs).toEqual([]);
    await context.close();
  });

  it('goes live when the page is opened under another name of the same host', async () => {
    const { context, page } = await openDashboard(browser, dashboardUrl.replace('127.0.0.1', 'localhost'));
    expect(await page.getAttribute('#connection', 'data-state')).toBe('live');
    await context.close();
  });
});

describe('star-leaders --dashboard --speed: the stats follow the pacer, in headless chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchBrowser();
  }, 60_000);

  afterEach(async () => {
    await stopCliRuns();
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('counts events as they leave the pacer: never more than those up to the watermark', async () => {
    // The first archive hour at 600 times event-time speed: six seconds. A file is read far ahead
    // of the pacer (into its queue), which the count must not follow.
    const app = runCli(['star-leaders', HOURS[0], '--dashboard', '127.0.0.1:0', '--speed', '600']);
    const [, url] = await app.stderrLine(/dashboard at (\S+)/);
    const { context, page, incidents } = await openDashboard(browser, url);
    try {
      // Every stats message the page shows, as it shows it.
      await page.evaluate(() => {
        const seen: Array<[string, string, string]> = (window.seenStats = []);
        const text = (id: string) => document.getElementById(id)?.textContent ?? '';
        new window.MutationObserver(() => seen.push([text('stat-events'), text('stat-watermark'), text('stat-events-per-second')])).observe(
          document.getElementById('stat-events'),
          { childList: true, characterData: true, subtree: true },
        );
      });
      const lines = gunzipSync(readFileSync(HOURS[0])).toString('utf8').split('\n').filter((l) => l !== '' && INTERESTING.has((JSON.parse(l) as { type: string }).type));
      const times = lines.map((l) => Date.parse((JSON.parse(l) as { created_at: string }).created_at));
      const last = Math.max(...times);

      const finalShown = new Date(last).toISOString().replace('.000Z', 'Z');
      await page.waitForFunction((w) => document.getElementById('stat-watermark')?.textContent === w, finalShown, { timeout: 30_000 });
      const seen = (await page.evaluate(() => window.seenStats ?? [])).filter(([, watermark]) => watermark !== '–');
      // Events leave the pacer in input order: by the time the watermark is W, the events passed
      // are a prefix of the input whose running maximum is at most W (and all those below W).
      const runningMax: number[] = [];
      for (const t of times) runningMax.push(Math.max(t, runningMax[runningMax.length - 1] ?? -Infinity));
      const midway = seen.filter(([, watermark]) => Date.parse(watermark) < last);
      expect(midway.length).toBeGreaterThan(0);
      for (const [shownEvents, watermark] of seen) {
        const w = Date.parse(watermark);
        const events = Number(shownEvents.replace(/,/g, ''));
        expect(events).toBeGreaterThanOrEqual(runningMax.filter((m) => m < w).length);
        expect(events).toBeLessThanOrEqual(runningMax.filter((m) => m <= w).length);
      }
      expect(midway.some(([, , perSecond]) => Number(perSecond.replace(/,/g, '')) > 0)).toBe(true);
      expect(incidents.pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('says when a replay of files has finished and keeps serving, with no JSON on stdout unless --print', async () => {
    const events = archiveLines().filter((l) => INTERESTING.has((JSON.parse(l) as { type: string }).type)).length;
    for (const print of [false, true]) {
      const app = runCli(['star-leaders', '--dashboard', '127.0.0.1:0', ...(print ? ['--print'] : [])]);
      const [, url] = await app.stderrLine(/dashboard at (\S+)/);
      await app.stderrLine(new RegExp(`star-leaders: replay finished: ${events} events; serving until Ctrl\\+C`));
      const { context, page } = await openDashboard(browser, url);
      try {
        await page.waitForFunction(() => document.querySelectorAll('#leaders tbody tr').length === 10, undefined, { timeout: 15_000 });
      } finally {
        await context.close();
      }
      app.stop();
      const { stdout } = await app.done;
      if (print) expect(stdout.split('\n').filter((l) => l !== '').every((l) => Array.isArray((JSON.parse(l) as { leaders: unknown }).leaders))).toBe(true);
      else expect(stdout).toBe('');
      if (print) expect(stdout).not.toBe('');
    }
  }, 60_000);
});

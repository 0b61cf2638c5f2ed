import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { Browser } from 'playwright-core';
import { runCli, stopCliRuns, type CliRun } from '../../support/cli';
import { launchBrowser, openDashboard, readLeaders, waitForLeaders, type DomElement } from '../../support/browser';
import { GH_ARCHIVE_HOURS as HOURS } from '../../support/data';

declare const document: DomElement;

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
    const lines = HOURS.flatMap((file) => gunzipSync(readFileSync(file)).toString('utf8').split('\n').filter((l) => l !== ''));
    await send(sender, lines);

    const expected = naiveTop10(lines);
    await waitForLeaders(page, expected.map(([repo]) => repo));
    expect((await readLeaders(page)).map((row) => [row.repo, Number(row.stars)])).toEqual(expected);

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

import { Browser, BrowserContext, Page, chromium } from 'playwright-core';
import { findChromium, packagedChromiumLibraries } from './chromium';

// The callbacks given to page.evaluate and friends run in the browser; this spec is compiled
// without the DOM library, so the little of the DOM they touch is declared here, in this module.
export interface DomElement {
  readonly textContent: string | null;
  readonly href?: string;
  getAttribute(name: string): string | null;
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): ArrayLike<DomElement>;
}
declare const document: DomElement & { getElementById(id: string): DomElement | null };
declare const window: { Chart: { getChart(canvas: unknown): any }; marker?: string };

const BROWSER_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];

/**
 * A headless chromium found by `findChromium` (RIVULET_CHROMIUM, a system chromium, or the one
 * packaged in @sparticuz/chromium), never a downloaded one. When the packaged browser cannot load
 * the system's NSS libraries, because the machine has none, it is started again with the copies
 * its package ships.
 */
export async function launchBrowser(): Promise<Browser> {
  const { executablePath, source } = await findChromium();
  const launch = (env?: NodeJS.ProcessEnv) => chromium.launch({ executablePath, args: BROWSER_ARGS, timeout: 60_000, env });
  try {
    return await launch();
  } catch (error) {
    if (source !== '@sparticuz/chromium' || !/error while loading shared libraries/.test(String(error))) {
      throw new Error(`could not start chromium ${executablePath} (from ${source}; set RIVULET_CHROMIUM to use another): ${String(error)}`, { cause: error });
    }
    const libraries = await packagedChromiumLibraries();
    const inherited = process.env.LD_LIBRARY_PATH;
    return launch({ ...process.env, LD_LIBRARY_PATH: inherited ? `${libraries}:${inherited}` : libraries });
  }
}

/** What a page did that it must not: dialogs (alert), console errors (CSP refusals), exceptions. */
export interface PageIncidents {
  readonly dialogs: string[];
  readonly consoleErrors: string[];
  readonly pageErrors: string[];
}

/** Opens the dashboard in a fresh context and waits until its feed is connected. */
export async function openDashboard(browser: Browser, url: string): Promise<{ context: BrowserContext; page: Page; incidents: PageIncidents }> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const incidents: PageIncidents = { dialogs: [], consoleErrors: [], pageErrors: [] };
  page.on('dialog', (dialog) => {
    incidents.dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('console', (message) => {
    if (message.type() === 'error') incidents.consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => incidents.pageErrors.push(error.message));
  await page.goto(url);
  await page.waitForSelector('#connection[data-state="live"]', { timeout: 15_000 });
  return { context, page, incidents };
}

export interface LeaderRow {
  readonly rank: string | null;
  readonly repo: string | null;
  readonly name: string;
  readonly href: string | null;
  readonly stars: string;
  readonly recent: ReadonlyArray<{ readonly kind: string | null; readonly text: string; readonly href: string | null }>;
}

/** The leaders table as the user sees it (text content, not markup). */
export function readLeaders(page: Page): Promise<LeaderRow[]> {
  return page.$$eval('#leaders tbody tr', (rows: DomElement[]) =>
    rows.map((row) => {
      const link = row.querySelector('td.repo a');
      return {
        rank: row.getAttribute('data-rank'),
        repo: row.getAttribute('data-repo'),
        name: row.querySelector('td.repo')?.textContent ?? '',
        href: link === null ? null : link.getAttribute('href'),
        stars: row.querySelector('td.stars')?.textContent ?? '',
        recent: Array.from(row.querySelectorAll('td.recent li')).map((item) => {
          const text = item.querySelector('.text');
          return { kind: item.getAttribute('data-kind'), text: text?.textContent ?? '', href: text?.getAttribute('href') ?? null };
        }),
      };
    }),
  );
}

/** Waits until the table lists exactly `repos`, in order. */
export async function waitForLeaders(page: Page, repos: readonly string[]): Promise<void> {
  await page.waitForFunction(
    (expected) => {
      const shown = Array.from(document.querySelectorAll('#leaders tbody tr')).map((row) => row.getAttribute('data-repo'));
      return JSON.stringify(shown) === JSON.stringify(expected);
    },
    repos,
    { timeout: 15_000 },
  );
}


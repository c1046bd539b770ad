import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { AxeBuilder } from '@axe-core/playwright';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';

import { rfc6238 } from 'test/support/rfc6238';

// What the console's browser tests share: Debian's Chromium, a page that records every problem, and a
// screenshot with an accessibility check per screen.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = join(__dirname, '..', '..', 'test-output', 'console');

// Without Chromium (a laptop that never ran .ci/run) the tests are skipped and say so; CI requires it.
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium && process.env.REQUIRE_CHROMIUM === '1') {
  throw new Error(
    `Chromium is required (REQUIRE_CHROMIUM=1) but ${CHROMIUM} is missing; see .ci/run`,
  );
}
if (!hasChromium) {
  process.stderr.write(`skipping the console browser tests: no Chromium at ${CHROMIUM}\n`);
}
export const describeInChromium = hasChromium ? describe : describe.skip;

/** Calls `read` until it returns the expected value or the time is up (then the last value fails). */
export function poll<T>(read: () => Promise<T>, options: { timeout: number; interval?: number }) {
  return {
    async toBe(want: T): Promise<void> {
      const deadline = Date.now() + options.timeout;
      let got = await read();
      while (got !== want && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, options.interval ?? 250));
        got = await read();
      }
      expect(got).toBe(want);
    },
  };
}

/** The next TOTP code: a code is accepted once, so every use moves the server's clock a step on. */
export function nextCode(
  clock: { advance(ms: number): void; now(): Date },
  secret: string,
): string {
  clock.advance(30_000);
  return rfc6238(secret, clock.now());
}

export interface ConsoleBrowser {
  readonly page: Page;
  /** Console errors, page errors, failed requests and unexpected answers >= 400, in order. */
  readonly problems: string[];
  /** Answers >= 400 provoked on purpose; each one allows a single answer, then is gone. */
  readonly expected: { status: number; path: string }[];
  /** A full-page screenshot in test-output/console/<name>.png, and no serious or critical axe finding. */
  screen(name: string): Promise<void>;
  /** Follows a link of the console's navigation and waits for the screen's heading. */
  go(label: string): Promise<void>;
  /** Fills the sign-in form and sends it; what follows (a code, the first screen) is the test's. */
  signIn(email: string, password: string): Promise<void>;
  close(): Promise<void>;
}

/** Launches Chromium with one page whose problems are recorded; each test then expects none. */
export async function launchConsoleBrowser(): Promise<ConsoleBrowser> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const problems: string[] = [];
  const expected: { status: number; path: string }[] = [];

  // Chromium logs every 4xx fetch as "Failed to load resource"; only the ones a test expects are fine.
  let allowedLoadErrors = 0;
  function isExpectedLoadError(text: string): boolean {
    if (text.startsWith('Failed to load resource') && allowedLoadErrors > 0) {
      allowedLoadErrors--;
      return true;
    }
    return false;
  }

  page.on('console', (message) => {
    if (message.type() === 'error' && !isExpectedLoadError(message.text())) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) =>
    problems.push(
      `request failed: ${request.method()} ${request.url()} ${request.failure()?.errorText}`,
    ),
  );
  page.on('response', (response) => {
    const path = new URL(response.url()).pathname;
    if (response.status() >= 400) {
      const allowed = expected.findIndex((e) => e.status === response.status() && e.path === path);
      if (allowed === -1) {
        // Recorded now, so the test that caused it fails; the body (the problem's detail) follows.
        const index =
          problems.push(`answer ${response.status()}: ${response.request().method()} ${path}`) - 1;
        void response
          .text()
          .catch(() => '')
          .then((body) => {
            problems[index] += ` ${body}`;
          });
      } else {
        expected.splice(allowed, 1);
        allowedLoadErrors++;
      }
    }
  });

  return {
    page,
    problems,
    expected,
    async screen(name: string): Promise<void> {
      await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
      const result = await new AxeBuilder({ page }).analyze();
      const serious = result.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map(
          (v) =>
            `${name}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
        );
      expect(serious).toEqual([]);
    },
    async go(label: string): Promise<void> {
      await page
        .getByRole('navigation', { name: 'Console' })
        .getByRole('link', { name: label })
        .click();
      await page.getByRole('heading', { level: 1, name: label }).waitFor();
    },
    async signIn(email: string, password: string): Promise<void> {
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Sign in' }).click();
    },
    close: () => browser.close(),
  };
}

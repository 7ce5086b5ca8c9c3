/**
 * A headless Chromium for the browser tests, driven by playwright-core. The browser is the system's
 * (hack/chromium.sh installs Debian's, `make test-browser` runs it first): nothing is downloaded here,
 * and a missing browser is an error that says what to install, never a skipped test.
 */
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { REPO_ROOT } from '../../src/testenv/index.js';

export const CHROMIUM = process.env.STUDYLAB_CHROMIUM ?? '/usr/bin/chromium';

/** Where screenshots are kept (gitignored). */
export const ARTIFACTS_DIR = join(REPO_ROOT, 'test-artifacts');

/** Flags that keep a headless Chromium quiet: no GPU, no sandbox (root in a container), no network of its own. */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Starts Chromium with a fresh profile, removed on close. */
export async function launchChromium(): Promise<Browser> {
  try {
    accessSync(CHROMIUM, constants.X_OK);
  } catch {
    throw new Error(
      `no Chromium at ${CHROMIUM}: run hack/chromium.sh (make test-browser does), install the ` +
        `chromium package, or set STUDYLAB_CHROMIUM to a Chromium executable`,
    );
  }
  const profile = mkdtempSync(join(tmpdir(), 'studylab-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1400, height: 1000 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A path for a screenshot under test-artifacts/<suite>/, its folder created. */
export function artifactPath(suite: string, name: string): string {
  const dir = join(ARTIFACTS_DIR, suite);
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}

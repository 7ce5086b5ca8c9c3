/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The live page in a real browser (headless Chromium through playwright-core), against an operator
 * process on the full local plane: a lab's story as the page tells it, from creation through an
 * edit to a deleted child, each new reconcile arriving over server-sent events without a reload.
 * Screenshots of each state are kept under test-artifacts/live-page/.
 */
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { kubectl, REPO_ROOT } from '../../src/testenv/index.js';
import { artifactPath, launchChromium, type Browser } from '../support/browser.js';
import { cluster, eventually, testNamespace, type Cluster } from '../support/cluster.js';
import { installOperatorPrerequisites } from '../support/install.js';
import { startOperator, type OperatorProcess } from '../support/operator.js';

/** Generous: the plane and the browser share a loaded 2-core machine with other suites. */
const WAIT = { timeoutMs: 180_000, intervalMs: 250 };

interface Row {
  id: string;
  steps: string[];
}

/** The timeline as the page shows it now: one row per reconcile, its steps' labels in order. */
function timeline(page: Page): Promise<Row[]> {
  return page.$$eval('#timeline .row', (rows) =>
    rows.map((r) => ({
      id: (r as HTMLElement).dataset.reconcileId ?? '',
      steps: [...r.querySelectorAll('.step')].map((s) => s.textContent ?? ''),
    })),
  );
}

/**
 * The first row (oldest first) whose steps include every one of `wanted` (each a prefix of a step's
 * label). On failure it shows the page's rows and, to tell a page that missed a reconcile from an
 * operator that never ran it, the operator's own history of the key.
 */
async function rowWith(
  page: Page,
  operator: OperatorProcess,
  key: string,
  wanted: string[],
  after?: Row[],
): Promise<Row> {
  return eventually(async () => {
    const rows = (await timeline(page)).reverse();
    const known = new Set((after ?? []).map((r) => r.id));
    const row = rows.find(
      (r) => !known.has(r.id) && wanted.every((w) => r.steps.some((s) => s.startsWith(w))),
    );
    if (!row) {
      const shown = rows.map((r) => `  ${r.id}: ${r.steps.join(' | ')}`).join('\n');
      const url = `${operator.debugUrl}/history?key=${encodeURIComponent(key)}&format=text`;
      const kept = await fetch(url).then(
        (r) => r.text(),
        (err: Error) => err.message,
      );
      throw new Error(
        `no reconcile with ${wanted.join(', ')}; the page shows:\n${shown}\nthe operator keeps:\n${kept}`,
      );
    }
    return row;
  }, WAIT);
}

describe('the live page in Chromium (browser)', function () {
  this.timeout(400_000);
  let c: Cluster;
  let ns: string;
  let operator: OperatorProcess;
  let browser: Browser;
  let page: Page;
  const shots: string[] = [];

  const shoot = async (name: string): Promise<void> => {
    const path = artifactPath('live-page', name);
    await page.screenshot({ path, fullPage: true });
    shots.push(path);
  };

  before(async function () {
    browser = await launchChromium();
    c = await cluster();
    const { kubeconfig } = await installOperatorPrerequisites();
    ns = await testNamespace('live');
    operator = await startOperator({ kubeconfig, args: [`--namespace=${ns}`] });
    await operator.waitReady();
    page = await browser.context.newPage();
    // Opened before the lab exists: the page keeps every reconcile it hears of, the first one included.
    await page.goto(`${operator.debugUrl}/live?key=${encodeURIComponent(`${ns}/clusterip`)}`);
    await page.waitForFunction(() => document.querySelector('#status')?.textContent?.startsWith('live'));
    // Set once; still there at the end only if the page was never reloaded.
    await page.evaluate(() => ((window as unknown as { loaded: string }).loaded = 'once'));
  });

  after(async function () {
    for (const s of shots) console.log(`    screenshot: ${s}`);
    await browser?.close();
    await operator?.stop();
  });

  let seen: Row[] = [];

  it('shows the first reconcile: trigger StudyLab ADDED, children absent, APPLY 201', async function () {
    kubectl(c, ['apply', '-n', ns, '-f', `${REPO_ROOT}/samples/01-clusterip.yaml`]);
    const first = await rowWith(page, operator, `${ns}/clusterip`, [
      'StudyLab ADDED',
      'diff Deployment absent',
      'diff Service absent',
      'APPLY Deployment 201',
      'APPLY Service 201',
    ]);
    expect(first.steps[0]).to.equal('StudyLab ADDED');
    // A click on a step shows its fields, and where they come from.
    await page
      .locator(`[data-reconcile-id="${first.id}"] .step`, { hasText: 'diff Deployment absent' })
      .click();
    const fields = await page.locator('#fields').textContent();
    expect(fields).to.contain('"reason": "absent"').and.to.contain('reconciler');
    // The diagram: the StudyLab informer's last event, and the API writes counted by verb and code.
    const diagram = await page.locator('#diagram').textContent();
    expect(diagram).to.match(/StudyLab: \d+ objects; last (ADDED|MODIFIED) /);
    expect(diagram).to.match(/APPLY 201: \d+/);
    expect(diagram).to.contain('src/runtime/workqueue.ts');
    await shoot('1-created.png');
    seen = await timeline(page);
  });

  it('shows, without a reload, the reconcile of an edited image: StudyLab MODIFIED, intent-changed', async function () {
    kubectl(c, [
      'patch',
      'slab',
      'clusterip',
      '-n',
      ns,
      '--type=merge',
      '-p',
      '{"spec":{"app":{"image":"nginxinc/nginx-unprivileged:1.28"}}}',
    ]);
    const edited = await rowWith(
      page,
      operator,
      `${ns}/clusterip`,
      ['StudyLab MODIFIED', 'diff Deployment intent-changed', 'APPLY Deployment 200'],
      seen,
    );
    expect(edited.steps).to.include('diff Service in-sync');
    expect(await page.evaluate(() => (window as unknown as { loaded?: string }).loaded)).to.equal('once');
    await shoot('2-image-edited.png');
    seen = await timeline(page);
  });

  it('shows the Service re-created by the reconcile its DELETED event triggered', async function () {
    kubectl(c, ['delete', 'service', 'clusterip', '-n', ns, '--wait=false']);
    const repaired = await rowWith(
      page,
      operator,
      `${ns}/clusterip`,
      ['Service DELETED', 'diff Service absent', 'APPLY Service 201'],
      seen,
    );
    // The Service has the lab's name, so the page names no other object: the trigger is the lab's own child.
    expect(repaired.steps[0]).to.equal('Service DELETED');
    expect(await page.evaluate(() => (window as unknown as { loaded?: string }).loaded)).to.equal('once');
    // And the Service is really back.
    await eventually(() => Promise.resolve(kubectl(c, ['get', 'service', 'clusterip', '-n', ns])), WAIT);
    await shoot('3-service-recreated.png');
  });
});

/**
 * The console's Overview against a real three-node cluster (child processes from
 * dist/: `npm run build` first), in Chromium: with every node up it shows three nodes
 * online and the controller; once a node is killed it shows that node fenced and the
 * partitions it held as under-replicated, highlighted, and the topic's page marks
 * them too. Checked with axe-core and screenshotted like the other pages.
 */
import t from 'tap';
import { launchBrowser } from '../helpers/browser.js';
import { startCluster } from '../helpers/cluster.js';
import { describeViolations, screenshot, seriousViolations } from './page-checks.js';

const WAIT = { timeout: 20_000 };

void t.test('Overview shows a fenced node and under-replicated partitions, highlighted', async (t) => {
  const cluster = await startCluster(t, { nodes: 3 });
  const status = await cluster.waitForOnline(30_000);
  const created = await fetch(`${cluster.url(1)}/v1/topics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'payments', partitions: 3, replicationFactor: 3 }) });
  t.equal(created.status, 201);
  await cluster.waitFor(async () => (await cluster.describeTopic('payments', 1)).partitions.every((p) => p.isr.length === 3), 20_000, 'full ISRs');

  const browser = await launchBrowser(t);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${cluster.url(1)}/console/`);
  await page.getByRole('heading', { name: 'Overview' }).waitFor(WAIT);
  t.match(await page.locator('.stats').innerText(WAIT), new RegExp(`Nodes online\\s+3 of 3[\\s\\S]*Nodes fenced\\s+0[\\s\\S]*Controller\\s+${status.controller}`), 'three nodes online and the controller');
  t.equal(await page.locator('table').first().locator('tbody tr').count(), 3, 'the nodes table lists all three');

  await cluster.kill(3);
  await cluster.waitFor(async () => {
    const [description, topic] = await Promise.all([
      fetch(`${cluster.url(1)}/v1/cluster`).then((response) => response.json() as Promise<{ nodes: Array<{ nodeId: number; state: string }> }>),
      cluster.describeTopic('payments', 1),
    ]);
    return description.nodes.find((node) => node.nodeId === 3)?.state === 'fenced' && topic.partitions.every((p) => !p.isr.includes(3));
  }, 30_000, 'node 3 fenced and out of every ISR');

  await page.reload();
  await page.getByRole('heading', { name: 'Overview' }).waitFor(WAIT);
  const stats = await page.locator('.stats').innerText(WAIT);
  t.match(stats, /Nodes online\s+2 of 3/, 'two of three online');
  t.match(stats, /Nodes fenced\s+1/, 'one fenced');
  const rows = page.locator('table.attention tbody tr.under-replicated');
  // payments' three partitions, and those of the cluster's own __consumer_offsets (replicated too).
  t.match(stats, new RegExp(`Under-replicated partitions\\s+${await rows.count()}\\b`), 'the under-replicated count is the rows listed');
  t.equal(await page.locator('.stat.bad', { hasText: 'Nodes fenced' }).count(), 1, 'the fenced count is highlighted');
  t.equal(await page.locator('.stat.warn', { hasText: 'Under-replicated' }).count(), 1, 'so is the under-replicated count');
  t.equal(await rows.filter({ hasText: 'payments' }).count(), 3, "each of payments' partitions is listed, highlighted");
  t.match(await page.locator('table').first().innerText(), /3\s+fenced/, 'node 3 shows as fenced');
  const violations = await seriousViolations(page);
  t.same(violations.map((v) => v.id), [], `overview with trouble: no serious or critical accessibility violations\n${describeViolations(violations)}`);
  await screenshot(t, page, 'overview-cluster-trouble');

  await page.getByRole('link', { name: 'payments' }).first().click();
  await page.getByRole('heading', { name: 'payments', level: 1 }).waitFor(WAIT);
  t.equal(await page.locator('tr.under-replicated').count(), 3, 'the topic page marks the partitions too');
  await screenshot(t, page, 'topic-cluster-trouble');
});

/**
 * The console's Overview against a real three-node cluster (child processes from
 * dist/: `npm run build` first), in Chromium: with every node up it shows three nodes
 * online and the controller; once a node is killed it shows that node fenced and the
 * partitions it held as under-replicated, highlighted, and the topic's page marks
 * them too. Checked with axe-core and screenshotted like the other pages.
 * The console works against any node: node 1's console produces through its form to a
 * partition of a topic that has no replica on node 1, and browses it there, because
 * the node hands such requests to the partition's leader (README "One URL for the
 * whole cluster"): the console never meets NOT_LEADER while a node can serve.
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
  const shown = await page.locator('.stats').innerText(WAIT);
  // The controller may move between the two reads (an election on a busy machine): either is right.
  const controllers = [status.controller, ((await (await fetch(`${cluster.url(1)}/v1/cluster`)).json()) as { controller: number | null }).controller];
  t.match(shown, new RegExp(`Nodes online\\s+3 of 3[\\s\\S]*Nodes fenced\\s+0[\\s\\S]*Controller\\s+(${controllers.join('|')})\\b`), `three nodes online and the controller (${controllers.join(' or ')})`);
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

  // A partition led by node 2 with no replica on node 1, driven from node 1's console.
  const audit = await fetch(`${cluster.url(1)}/v1/topics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'audit', partitions: 2, replicationFactor: 1 }) });
  t.equal(audit.status, 201);
  let elsewhere: number | undefined;
  await cluster.waitFor(async () => {
    const topic = await cluster.describeTopic('audit', 1);
    elsewhere = topic.partitions.find((p) => p.leader === 2 && !p.replicas.includes(1))?.partition;
    return elsewhere !== undefined || topic.partitions.every((p) => p.leader === 1);
  }, 20_000, 'audit\'s leaders');
  if (elsewhere === undefined) throw new Error('both partitions of audit are on node 1: nothing to hand over');
  await page.goto(`${cluster.url(1)}/console/#/topics/audit`);
  await page.getByRole('heading', { name: 'audit', level: 1 }).waitFor(WAIT);
  await page.locator('#produce-partition').selectOption(String(elsewhere));
  await page.getByLabel('Value', { exact: true }).fill('"through node 1"');
  await page.getByRole('button', { name: 'Produce' }).click();
  await page.getByText(`Produced to partition ${elsewhere} at offset 0.`).waitFor(WAIT);
  const browsed = page.locator('ol[aria-label="Records"] li.record[data-offset="0"]');
  t.match(await browsed.innerText(WAIT), /through node 1/, 'produced and browsed through node 1, a node holding no replica of the partition');
  const served = await fetch(`${cluster.url(1)}/v1/topics/audit/partitions/${elsewhere}/records?offset=0`);
  t.equal(served.headers.get('runnel-served-by'), '2', 'the reads were node 2\'s, handed over by node 1');
});

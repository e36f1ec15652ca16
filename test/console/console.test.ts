/**
 * The web console in Chromium, against a real node serving the built console
 * (dist/console: `npm run build` first, as `npm test` does) at /console:
 *   - Overview shows the cluster's id, its node online, the controller and the counts;
 *   - Topics: a create the API refuses shows the API's code and message; a create
 *     through the form opens the new topic; search filters; delete asks for the name;
 *   - a topic: its partitions; a record produced through the form shows in the record
 *     browser (key, pretty-printed JSON, header) and in the live tail, and the tail
 *     resumes after its connection is dropped without showing a record twice;
 *   - the Overview charts this node's produce rate (an SVG sparkline with points) under
 *     produce load, and its topic and group counts link to their pages;
 *   - a topic's configs and partition count are altered through the form (the API's
 *     INVALID_CONFIG shown as it comes) and the change is seen over HTTP; the record
 *     browser's time lookup lands on the first offset at or after the time;
 *   - every page passes axe-core with no serious or critical violations, at 1280 px and
 *     at a phone's width, light and dark, and is screenshotted (the directory is printed).
 */
import t, { type Test } from 'tap';
import type { Page } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.js';
import { startInProcessNode } from '../helpers/server.js';
import { describeViolations, screenshot, seriousViolations } from './page-checks.js';

const WAIT = { timeout: 20_000 };

/** Produces to `orders` until the Overview's produce chart shows a rate above 0 and has two points or more (bounded: 40 rounds of at most 1 s). */
async function producedRateShows(t: Test, page: Page, url: string): Promise<void> {
  const body = JSON.stringify({ records: Array.from({ length: 20 }, (_, index) => ({ value: { load: index } })) });
  for (let round = 0; round < 40; round++) {
    const produced = await fetch(`${url}/v1/topics/orders/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    if (produced.status !== 200) t.fail(`produce answered ${produced.status}`);
    const shown = await page.waitForFunction(() => {
      const { document } = globalThis as unknown as { document: { querySelector: (selector: string) => { textContent: string | null; getAttribute: (name: string) => string | null } | null } };
      const points = document.querySelector('#chart-produce polyline')?.getAttribute('points') ?? '';
      return Number.parseFloat(document.querySelector('#chart-produce .chart-value')?.textContent ?? '') > 0 && points.split(' ').length >= 2;
    }, undefined, { timeout: 1_000 }).then(() => true, () => false);
    if (shown) {
      t.match(await page.locator('#chart-produce').innerText(), /Produced: [\d.]+ records\/s/, 'the Overview charts the produce rate under load');
      return;
    }
  }
  t.fail('the produce chart never showed a rate above 0');
}

async function checkPage(t: Test, page: Page, name: string): Promise<void> {
  const violations = await seriousViolations(page);
  t.same(violations.map((v) => v.id), [], `${name}: no serious or critical accessibility violations${violations.length === 0 ? '' : `\n${describeViolations(violations)}`}`);
  await screenshot(t, page, name);
}

void t.test('create a topic, produce through the form, see the record in the browser and the live tail', async (t) => {
  const node = await startInProcessNode(t);
  const browser = await launchBrowser(t);
  // bypassCSP only lets the tests inject axe-core; the console itself never needs it.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));

  await page.goto(`${node.url}/console`);
  t.equal(new URL(page.url()).pathname, '/console/', '/console redirects to /console/');
  await page.getByRole('heading', { name: 'Overview' }).waitFor(WAIT);
  const clusterId = (await (await fetch(`${node.url}/v1/cluster`)).json() as { clusterId: string }).clusterId;
  await page.getByText(clusterId).waitFor(WAIT);
  t.match(await page.locator('.stats').innerText(), /Nodes online\s+1 of 1[\s\S]*Controller\s+1[\s\S]*Topics\s+0[\s\S]*Groups\s+0[\s\S]*Under-replicated partitions\s+0[\s\S]*Offline partitions\s+0/, 'overview: nodes, controller, counts, partitions needing attention');
  await checkPage(t, page, 'overview');

  await page.getByRole('link', { name: 'Topics' }).click();
  await page.getByRole('heading', { name: 'Topics', level: 1 }).waitFor(WAIT);
  await page.getByLabel('Name', { exact: true }).fill('orders');
  await page.getByLabel('Partitions').fill('0');
  await page.getByRole('button', { name: 'Create topic' }).click();
  const refusal = await page.getByRole('alert').innerText(WAIT);
  t.match(refusal, /^INVALID_PARTITIONS: /, 'a create the API refuses shows its code and message');
  await checkPage(t, page, 'topics-create-refused');

  await page.getByLabel('Partitions').fill('2');
  await page.getByLabel('Configs').fill('retention.ms=86400000');
  await page.getByRole('button', { name: 'Create topic' }).click();
  await page.getByRole('heading', { name: 'orders', level: 1 }).waitFor(WAIT);
  t.equal(new URL(page.url()).hash, '#/topics/orders', 'the new topic opens');
  const described = await (await fetch(`${node.url}/v1/topics/orders`)).json() as { partitions: unknown[]; configs: Record<string, string> };
  t.equal(described.partitions.length, 2, 'created with 2 partitions');
  t.equal(described.configs['retention.ms'], '86400000', 'and the config');
  t.equal(await page.locator('table').first().locator('tbody tr').count(), 2, 'the topic page lists both partitions');

  // The live tail follows partition 0 before anything is produced.
  await page.getByRole('button', { name: 'Start live tail' }).click();
  await page.locator('#tail-status', { hasText: 'Following from offset 0' }).waitFor(WAIT);

  await page.locator('#produce-partition').selectOption('0');
  await page.getByLabel('Key', { exact: true }).fill('alice');
  await page.getByLabel('Value', { exact: true }).fill('{"item":"book","qty":1}');
  await page.getByLabel('Headers').fill('source: console');
  await page.getByRole('button', { name: 'Produce' }).click();
  await page.getByText('Produced to partition 0 at offset 0.').waitFor(WAIT);

  const browsed = page.locator('ol[aria-label="Records"] li.record');
  await browsed.first().waitFor(WAIT);
  const browsedText = await browsed.first().innerText();
  t.match(browsedText, /#0/, 'the record browser shows offset 0');
  t.match(browsedText, /key alice/, 'its key');
  t.match(browsedText, /\{\n {2}"item": "book",\n {2}"qty": 1\n\}/, 'its value as pretty-printed JSON');
  t.match(browsedText, /source\s+console/, 'its header');
  const tailed = page.locator('ol[aria-label="Live records"] li.record');
  await tailed.first().waitFor(WAIT);
  t.match(await tailed.first().innerText(), /#0[\s\S]*key alice[\s\S]*"item": "book"/, 'the live tail shows the record too');
  await checkPage(t, page, 'topic');

  // The tail's connection drops (as when a node restarts): it reconnects and resumes after offset 0.
  node.runnel.streams.abortAll();
  const produced = await fetch(`${node.url}/v1/topics/orders/partitions/0/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"records":[{"value":"after the drop"}]}' });
  t.equal(produced.status, 200);
  await page.locator('ol[aria-label="Live records"] li.record[data-offset="1"]').waitFor(WAIT);
  t.same(await tailed.evaluateAll((items) => items.map((item) => item.getAttribute('data-offset'))), ['1', '0'], 'after the drop the tail resumed at offset 1: each record once, newest first');
  t.match(await page.locator('#tail-status').innerText(), /Following from offset 1/, 'and says where it resumed');
  await page.getByRole('button', { name: 'Stop live tail' }).click();

  // Paging: the browser pages back and forth through a partition.
  const many = { records: Array.from({ length: 25 }, (_, index) => ({ value: { n: index }, partition: 1 })) };
  await fetch(`${node.url}/v1/topics/orders/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(many) });
  await page.locator('#browse-partition').selectOption('1');
  await page.getByText('Offsets 5 to 24 of 0 to 24.').waitFor(WAIT);
  await page.getByRole('button', { name: '← Older' }).click();
  await page.getByText('Offsets 0 to 19 of 0 to 24.').waitFor(WAIT);
  await page.getByLabel('From offset').fill('22');
  await page.getByRole('button', { name: 'Read' }).click();
  await page.getByText('Offsets 22 to 24 of 0 to 24.').waitFor(WAIT);
  t.pass('the record browser pages backwards and reads from a chosen offset');

  // A phone-sized viewport, and the dark colour scheme: the same page, checked again (contrast included).
  await page.setViewportSize({ width: 390, height: 844 });
  await checkPage(t, page, 'topic-phone');
  await page.emulateMedia({ colorScheme: 'dark' });
  await checkPage(t, page, 'topic-phone-dark');
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.getByRole('link', { name: 'Overview' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor(WAIT);
  await page.locator('.stats').getByText('Topics').waitFor(WAIT);
  await producedRateShows(t, page, node.url);
  t.match(await page.locator('#chart-produce polyline').getAttribute('points') ?? '', /^[\d.]+,[\d.]+( [\d.]+,[\d.]+)+$/, 'the produce chart is a line of several points');
  await checkPage(t, page, 'overview-dark');
  await page.setViewportSize({ width: 390, height: 844 });
  await checkPage(t, page, 'overview-phone-dark');
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.emulateMedia({ colorScheme: 'light' });
  await page.locator('.stats a[href="#/topics"]').click();
  await page.getByRole('heading', { name: 'Topics', level: 1 }).waitFor(WAIT);
  t.pass('the Overview\'s topic count links to the Topics page');
  t.same(pageErrors, [], 'no script errors on the page');
});

void t.test('topics: search filters the list, delete asks for the name first', async (t) => {
  const node = await startInProcessNode(t);
  for (const name of ['payments', 'orders', 'scratch']) {
    await fetch(`${node.url}/v1/topics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
  }
  const browser = await launchBrowser(t);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${node.url}/console/#/topics`);
  await page.getByText('3 of 3 topics').waitFor(WAIT);
  await page.getByLabel('Search topics').fill('pay');
  await page.getByText('1 of 3 topics').waitFor(WAIT);
  t.same(await page.locator('tbody th a').allInnerTexts(), ['payments'], 'search keeps the matching topics');
  await page.getByLabel('Search topics').fill('');

  await page.getByRole('button', { name: 'Delete topic scratch' }).click();
  const dialog = page.getByRole('dialog', { name: 'Delete topic scratch?' });
  await dialog.waitFor(WAIT);
  await checkPage(t, page, 'topics-delete-dialog');
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await dialog.getByRole('alert').waitFor(WAIT);
  t.equal((await fetch(`${node.url}/v1/topics/scratch`)).status, 200, 'not deleted before the name is typed');
  await dialog.getByLabel('Type scratch to confirm').fill('scratch');
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await page.getByText('2 of 2 topics').waitFor(WAIT);
  t.equal((await fetch(`${node.url}/v1/topics/scratch`)).status, 404, 'deleted once confirmed');
  t.same((await page.locator('tbody th a').allInnerTexts()).sort(), ['orders', 'payments'], 'and gone from the list');
  await checkPage(t, page, 'topics');

  // Alter: a config the API refuses shows its message; a valid one and a new partition are seen over HTTP.
  await page.getByRole('link', { name: 'orders' }).click();
  await page.getByRole('heading', { name: 'orders', level: 1 }).waitFor(WAIT);
  const alter = page.getByRole('form', { name: 'Alter the topic' });
  await alter.getByLabel('Topic configs').fill('retention.ms=soon');
  await alter.getByRole('button', { name: 'Save changes' }).click();
  t.match(await alter.getByRole('alert').innerText(WAIT), /^INVALID_CONFIG: /, 'a config the API refuses: its code and message');
  await checkPage(t, page, 'topic-alter-refused');
  await alter.getByLabel('Topic configs').fill('retention.ms=3600000\ncleanup.policy=delete');
  await alter.getByRole('button', { name: 'Save changes' }).click();
  await alter.getByText('Topic orders altered.').waitFor(WAIT);
  const altered = await (await fetch(`${node.url}/v1/topics/orders`)).json() as { partitions: unknown[]; configs: Record<string, string> };
  t.equal(altered.configs['retention.ms'], '3600000', 'the altered config, seen over HTTP');
  t.match(await page.getByText('Configs: ').innerText(), /retention\.ms=3600000/, 'and on the page');
  await alter.getByLabel('Partition count').fill('2');
  await alter.getByRole('button', { name: 'Save changes' }).click();
  await page.locator('#browse-partition option[value="1"]').waitFor({ ...WAIT, state: 'attached' });
  const grown = await (await fetch(`${node.url}/v1/topics/orders`)).json() as { partitions: unknown[] };
  t.equal(grown.partitions.length, 2, 'a partition added through the form');

  // Time lookup: three records an hour apart; 00:30 lands on the second.
  const hour = 3_600_000;
  const start = Date.UTC(2026, 0, 1);
  const timed = { records: [0, 1, 2].map((index) => ({ value: `at ${index} h`, timestamp: start + index * hour })) };
  t.equal((await fetch(`${node.url}/v1/topics/orders/partitions/0/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(timed) })).status, 200);
  await page.getByLabel('Or from time (UTC)').fill('2026-01-01T00:30:00');
  await page.getByRole('button', { name: 'Read' }).click();
  await page.getByText('Offsets 1 to 2 of 0 to 2.').waitFor(WAIT);
  t.equal(await page.locator('ol[aria-label="Records"] li.record').first().getAttribute('data-offset'), '1', 'the time lookup lands on offset 1, the first record at or after 00:30');
  t.equal(await page.getByLabel('From offset').inputValue(), '1', 'and shows the offset it found');
});

/**
 * The console's Groups pages in Chromium, against a real node serving the built console
 * (dist/console: `npm run build` first, as `npm test` does), with a consumer group
 * driven over the public HTTP API:
 *   - the Overview's group count links to the Groups list;
 *   - the Groups list shows the group's state, members and total lag, search filters it
 *     and a refresh keeps the search;
 *   - the group's page shows its member and assignment, per partition the committed
 *     offset, high watermark and lag, and charts the total lag over time (an SVG
 *     sparkline with points); after the member commits everything a refresh shows the
 *     lag at 0;
 *   - a reset or a delete while the member is live shows the API's GROUP_NOT_EMPTY;
 *     once it leaves, a reset to earliest brings the lag back, a reset to an offset
 *     moves one partition, to latest and to a time move all, and delete (after typing
 *     the id) removes the group;
 *   - both pages pass axe-core with no serious or critical violations (the group's page
 *     also at a phone's width in dark colours) and are screenshotted.
 */
import t, { type Test } from 'tap';
import type { Page } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.js';
import { startInProcessNode } from '../helpers/server.js';
import { describeViolations, screenshot, seriousViolations } from './page-checks.js';

const WAIT = { timeout: 20_000 };

async function checkPage(t: Test, page: Page, name: string): Promise<void> {
  const violations = await seriousViolations(page);
  t.same(violations.map((v) => v.id), [], `${name}: no serious or critical accessibility violations${violations.length === 0 ? '' : `\n${describeViolations(violations)}`}`);
  await screenshot(t, page, name);
}

async function api<T>(url: string, method: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(url, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
}

interface Offsets { offsets: Array<{ partition: number; offset: number | null; lag: number | null }> }

void t.test('a group: its lag, a commit to the end, resets and delete refused while a member is live, then allowed', async (t) => {
  const node = await startInProcessNode(t);
  t.equal((await api(`${node.url}/v1/topics`, 'POST', { name: 'orders', partitions: 2 })).status, 201, 'topic created');
  const records = Array.from({ length: 10 }, (_, index) => ({ value: { n: index }, partition: index % 2 }));
  t.equal((await api(`${node.url}/v1/topics/orders/records`, 'POST', { records })).status, 200, '5 records in each partition');
  await api(`${node.url}/v1/groups/other/offsets`, 'POST', { offsets: [{ topic: 'orders', partition: 0, offset: 5 }] });

  const joined = await api<{ memberId: string; generation: number; assignment: Array<{ partitions: number[] }> }>(`${node.url}/v1/groups/billing/members`, 'POST', { topics: ['orders'], clientId: 'billing-app', autoOffsetReset: 'earliest', sessionTimeoutMs: 600_000 });
  t.equal(joined.status, 201, 'a member joined');
  const { memberId, generation } = joined.body;
  t.same(joined.body.assignment[0]?.partitions, [0, 1], 'it owns both partitions');
  const commit = (offset: number): Promise<{ status: number }> => api(`${node.url}/v1/groups/billing/offsets`, 'POST', { memberId, generation, offsets: [0, 1].map((partition) => ({ topic: 'orders', partition, offset })) });
  t.equal((await commit(2)).status, 200, 'it committed offset 2 on both partitions');

  const browser = await launchBrowser(t);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));

  await page.goto(`${node.url}/console/`);
  await page.getByRole('heading', { name: 'Overview' }).waitFor(WAIT);
  t.equal(await page.locator('.stats a[href="#/groups"]').innerText(), '2', 'the Overview counts two groups');
  await page.locator('.stats a[href="#/groups"]').click();
  await page.getByRole('heading', { name: 'Groups', level: 1 }).waitFor(WAIT);
  await page.getByText('2 of 2 groups').waitFor(WAIT);
  t.match(await page.locator('tbody tr', { hasText: 'billing' }).innerText(), /billing\s+Stable\s+1\s+6/, 'the list: billing is Stable, 1 member, total lag 6');
  t.match(await page.locator('tbody tr', { hasText: 'other' }).innerText(), /other\s+Empty\s+0\s+0/, 'a group with offsets only is Empty');
  await page.getByLabel('Search groups').fill('bill');
  await page.getByText('1 of 2 groups').waitFor(WAIT);
  t.same(await page.locator('tbody th a').allInnerTexts(), ['billing'], 'search keeps the matching groups');
  await api(`${node.url}/v1/groups/billing-audit/offsets`, 'POST', { offsets: [{ topic: 'orders', partition: 0, offset: 1 }] });
  await page.getByRole('button', { name: 'Refresh' }).click();
  await page.getByText('2 of 3 groups').waitFor(WAIT);
  t.equal(await page.getByLabel('Search groups').inputValue(), 'bill', 'a refresh keeps the search');
  t.same(await page.locator('tbody th a').allInnerTexts(), ['billing', 'billing-audit'], 'and filters the fresh list with it');
  await checkPage(t, page, 'groups');

  await page.getByRole('link', { name: 'billing', exact: true }).click();
  await page.getByRole('heading', { name: 'billing', level: 1 }).waitFor(WAIT);
  t.equal(new URL(page.url()).hash, '#/groups/billing', 'the group opens');
  t.equal(await page.locator('#group-lag').innerText(), '6', 'total lag 6');
  const members = await page.locator('table', { hasText: 'Members' }).innerText();
  t.match(members, new RegExp(`${memberId}[\\s\\S]*billing-app[\\s\\S]*orders: 0, 1`), 'the member, its client id and its assignment');
  const offsetRows = page.locator('#group-offsets tbody tr');
  const rows = await offsetRows.allInnerTexts();
  t.equal(rows.length, 2, 'a row per partition');
  t.match(rows[0], /^orders\s+0\s+2\s+5\s+3\s+\d{4}-\d\d-\d\d /, 'partition 0: committed 2, high watermark 5, lag 3, when');
  t.match(rows[1], /^orders\s+1\s+2\s+5\s+3\s/, 'partition 1 too');
  await page.waitForFunction(() => {
    const { document } = globalThis as unknown as { document: { querySelector: (selector: string) => { getAttribute: (name: string) => string | null } | null } };
    return (document.querySelector('#chart-lag polyline')?.getAttribute('points') ?? '').split(' ').length >= 2;
  }, undefined, WAIT);
  t.match(await page.locator('#chart-lag').innerText(), /Total lag: 6 records/, 'the lag chart: a line of samples, the latest 6');
  await checkPage(t, page, 'group');

  t.equal((await commit(5)).status, 200, 'the member commits everything');
  await page.getByRole('button', { name: 'Refresh' }).click();
  await page.locator('#group-lag', { hasText: /^0$/ }).waitFor(WAIT);
  t.match(await offsetRows.first().innerText(), /^orders\s+0\s+5\s+5\s+0/, 'after a refresh the lag is 0');

  await page.getByLabel('Reset to').selectOption('earliest');
  await page.getByRole('button', { name: 'Reset offsets' }).click();
  t.match(await page.getByRole('alert').innerText(WAIT), /^GROUP_NOT_EMPTY: /, 'a reset while the member is live shows the API\'s refusal');
  t.same((await api<Offsets>(`${node.url}/v1/groups/billing/offsets`, 'GET')).body.offsets.map((o) => o.offset), [5, 5], 'and nothing moved');
  await page.getByRole('button', { name: 'Delete group' }).click();
  const refusedDialog = page.getByRole('dialog', { name: 'Delete group billing?' });
  await refusedDialog.getByLabel('Type billing to confirm').fill('billing');
  await refusedDialog.getByRole('button', { name: 'Delete' }).click();
  t.match(await refusedDialog.getByRole('alert').innerText(WAIT), /^GROUP_NOT_EMPTY: /, 'so is a delete');
  await refusedDialog.getByRole('button', { name: 'Cancel' }).click();

  t.equal((await api(`${node.url}/v1/groups/billing/members/${memberId}`, 'DELETE')).status, 204, 'the member leaves');
  await page.getByRole('button', { name: 'Refresh' }).click();
  await page.getByText('No live members: offsets may be reset').waitFor(WAIT);
  await page.getByRole('button', { name: 'Reset offsets' }).click();
  await page.getByText('Offsets of orders reset').waitFor(WAIT);
  await page.locator('#group-lag', { hasText: /^10$/ }).waitFor(WAIT);
  t.same((await api<Offsets>(`${node.url}/v1/groups/billing/offsets`, 'GET')).body.offsets.map((o) => o.offset), [0, 0], 'reset to earliest once it is empty: the lag is back');

  await page.getByLabel('Reset to').selectOption('offset');
  await page.getByLabel('Offset', { exact: true }).fill('3');
  await page.getByLabel('Partitions').fill('1');
  await page.getByRole('button', { name: 'Reset offsets' }).click();
  await page.locator('#group-lag', { hasText: /^7$/ }).waitFor(WAIT);
  t.same((await api<Offsets>(`${node.url}/v1/groups/billing/offsets`, 'GET')).body.offsets.map((o) => o.offset), [0, 3], 'reset of partition 1 to offset 3');

  await page.getByLabel('Reset to').selectOption('latest');
  await page.getByLabel('Partitions').fill('');
  await page.getByRole('button', { name: 'Reset offsets' }).click();
  await page.locator('#group-lag', { hasText: /^0$/ }).waitFor(WAIT);
  t.same((await api<Offsets>(`${node.url}/v1/groups/billing/offsets`, 'GET')).body.offsets.map((o) => o.offset), [5, 5], 'reset to latest');

  // Two days ago in any time zone: every record is later, so the reset goes back to offset 0.
  const before = new Date(Date.now() - 2 * 86_400_000);
  const local = new Date(before.getTime() - before.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
  await page.getByLabel('Reset to').selectOption('timestamp');
  await page.getByLabel('Time (your local time)').fill(local);
  await page.getByRole('button', { name: 'Reset offsets' }).click();
  await page.locator('#group-lag', { hasText: /^10$/ }).waitFor(WAIT);
  t.same((await api<Offsets>(`${node.url}/v1/groups/billing/offsets`, 'GET')).body.offsets.map((o) => o.offset), [0, 0], 'reset to a time before every record');
  await checkPage(t, page, 'group-empty');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.emulateMedia({ colorScheme: 'dark' });
  await checkPage(t, page, 'group-phone-dark');
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.emulateMedia({ colorScheme: 'light' });

  await page.getByRole('button', { name: 'Delete group' }).click();
  const dialog = page.getByRole('dialog', { name: 'Delete group billing?' });
  await dialog.getByLabel('Type billing to confirm').fill('billing');
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('heading', { name: 'Groups', level: 1 }).waitFor(WAIT);
  await page.getByText('2 of 2 groups').waitFor(WAIT);
  t.equal((await api(`${node.url}/v1/groups/billing`, 'GET')).status, 404, 'deleted once empty and confirmed');
  t.same(pageErrors, [], 'no script errors on the page');
});

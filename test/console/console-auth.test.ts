/**
 * The console against a node with --auth api-key, in Chromium: the page loads without
 * a key and asks for one; a wrong key is refused with the API's message; a key is kept
 * in the tab's session storage (never in the URL) and sent on every call, so a narrow
 * key sees only the topics it has grants on and the live tail streams with it; signing
 * out forgets it. The sign-in page passes axe-core.
 * Keys: the narrow key's Keys page shows only its own grants (it may not list keys);
 * the admin key's lists the keys with their grants, says what the
 * signed-in key may do, refuses grants it cannot read, creates a key showing its
 * secret once (the key then signs in and sees its own grants) and deletes one after
 * its name is typed. The Keys page passes axe-core at 1280 px and a phone's width,
 * light and dark.
 */
import t, { type Test } from 'tap';
import type { Page } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.js';
import { startInProcessNode } from '../helpers/server.js';
import { describeViolations, screenshot, seriousViolations } from './page-checks.js';

const ADMIN_KEY = 'console-auth-admin-key-0123456789abcdef';
const WAIT = { timeout: 20_000 };

async function checkPage(t: Test, page: Page, name: string): Promise<void> {
  const violations = await seriousViolations(page);
  t.same(violations.map((v) => v.id), [], `${name}: no serious or critical accessibility violations${violations.length === 0 ? '' : `\n${describeViolations(violations)}`}`);
  await screenshot(t, page, name);
}

async function signIn(page: Page, key: string): Promise<void> {
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

void t.test('sign in with a key, see what it may see, stream with it, sign out', async (t) => {
  const node = await startInProcessNode(t, { broker: { adminKey: ADMIN_KEY }, app: { isAuthEnabled: true } });
  const admin = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
  for (const name of ['billing.invoices', 'payroll']) {
    t.equal((await fetch(`${node.url}/v1/topics`, { method: 'POST', headers: admin, body: JSON.stringify({ name }) })).status, 201);
  }
  const created = await fetch(`${node.url}/v1/keys`, {
    method: 'POST', headers: admin,
    body: JSON.stringify({ name: 'billing-reader', grants: [{ resource: 'topic', prefix: 'billing.', operations: ['read', 'write'] }] }),
  });
  const { key: narrowKey } = await created.json() as { key: string };

  const browser = await launchBrowser(t);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${node.url}/console/#/topics`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor(WAIT);
  const violations = await seriousViolations(page);
  t.same(violations.map((v) => v.id), [], `sign-in: no serious or critical accessibility violations\n${describeViolations(violations)}`);
  await screenshot(t, page, 'sign-in');

  await page.getByLabel('API key').fill('rk_not_a_key');
  await page.getByRole('button', { name: 'Sign in' }).click();
  t.match(await page.getByRole('alert').innerText(WAIT), /not valid/, 'a wrong key: the API\'s message, and the form again');

  await page.getByLabel('API key').fill(narrowKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Topics', level: 1 }).waitFor(WAIT);
  t.same(await page.locator('tbody th a').allInnerTexts(), ['billing.invoices'], 'the narrow key sees only the topics it has grants on');
  await page.getByRole('link', { name: 'Groups' }).waitFor(WAIT);
  await page.getByRole('link', { name: 'Keys' }).click();
  await page.getByRole('heading', { name: 'Keys', level: 1 }).waitFor(WAIT);
  t.match(await page.locator('#own-key').innerText(), /Signed in as billing-reader[\s\S]*read, write on topics starting with billing\./, 'a key that may not list keys still sees what it may do');
  t.match(await page.locator('#keys-not-listed').innerText(), /may not list or make keys/, 'and is told it may not manage keys');
  t.equal(await page.locator('#keys').count(), 0, 'no list of other keys');
  t.equal(await page.getByRole('button', { name: 'Create key' }).count(), 0, 'no create form');
  await page.getByRole('link', { name: 'Topics' }).click();
  await page.getByRole('heading', { name: 'Topics', level: 1 }).waitFor(WAIT);
  t.equal(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem: (key: string) => string | null } }).sessionStorage.getItem('runnel.console.apiKey')), narrowKey, 'the key is kept in session storage');
  t.notMatch(page.url(), /rk_/, 'never in the URL');

  // The live tail streams with the key (in a header: an EventSource could not send it).
  await page.getByRole('link', { name: 'billing.invoices' }).click();
  await page.getByRole('button', { name: 'Start live tail' }).click();
  await page.locator('#tail-status', { hasText: 'Following from offset 0' }).waitFor(WAIT);
  await page.getByLabel('Value', { exact: true }).fill('"paid"');
  await page.getByRole('button', { name: 'Produce' }).click();
  await page.locator('ol[aria-label="Live records"] li.record[data-offset="0"]').waitFor(WAIT);
  t.match(await page.locator('ol[aria-label="Live records"]').innerText(), /paid/, 'produced and streamed with the narrow key');

  await page.goto(`${node.url}/console/#/topics/payroll`);
  t.match(await page.getByRole('alert').innerText(WAIT), /^FORBIDDEN: /, 'a topic the key may not see: the API\'s FORBIDDEN, shown');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor(WAIT);
  t.equal(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem: (key: string) => string | null } }).sessionStorage.getItem('runnel.console.apiKey')), null, 'signing out forgets the key');

  // The admin key: the Keys page.
  await signIn(page, ADMIN_KEY);
  await page.getByRole('link', { name: 'Keys' }).click();
  await page.getByRole('heading', { name: 'Keys', level: 1 }).waitFor(WAIT);
  t.match(await page.locator('#own-key').innerText(), /admin key/, 'what the signed-in key may do: the node\'s admin key, everything');
  t.match(await page.locator('#keys tbody tr', { hasText: 'billing-reader' }).innerText(), /billing-reader\s+\w+\s+read, write on topics starting with billing\./, 'the keys with their grants');
  await page.getByLabel('Name', { exact: true }).fill('ops');
  await page.getByLabel('Grants').fill('topic payroll read\nqueue x read');
  await page.getByRole('button', { name: 'Create key' }).click();
  t.match(await page.getByRole('alert').innerText(WAIT), /grants line 2/, 'a grant line it cannot read: said, nothing sent');
  await page.getByLabel('Grants').fill('topic payroll read\ncluster admin');
  await page.getByRole('button', { name: 'Create key' }).click();
  const secret = await page.locator('#new-key-secret').innerText(WAIT);
  t.match(secret, /^rk_\w+_/, 'the new key\'s secret is shown once');
  await page.locator('#keys tbody tr', { hasText: 'ops' }).waitFor(WAIT);
  const listed = await (await fetch(`${node.url}/v1/keys`, { headers: admin })).json() as { keys: Array<{ name: string; grants: unknown[] }> };
  t.same(listed.keys.find((key) => key.name === 'ops')?.grants, [{ resource: 'topic', name: 'payroll', operations: ['read'] }, { resource: 'cluster', operations: ['admin'] }], 'made with its grants, seen over HTTP');
  await checkPage(t, page, 'keys');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.emulateMedia({ colorScheme: 'dark' });
  await checkPage(t, page, 'keys-phone-dark');
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.emulateMedia({ colorScheme: 'light' });

  await page.getByRole('button', { name: 'Delete key billing-reader' }).click();
  const dialog = page.getByRole('dialog', { name: 'Delete key billing-reader?' });
  await dialog.getByLabel('Type billing-reader to confirm').fill('billing-reader');
  await checkPage(t, page, 'keys-delete-dialog');
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await page.locator('#keys tbody tr', { hasText: 'billing-reader' }).waitFor({ ...WAIT, state: 'detached' });
  t.equal((await fetch(`${node.url}/v1/topics`, { headers: { authorization: `Bearer ${narrowKey}` } })).status, 401, 'the deleted key no longer works');

  // The new key signs in and sees its own grants.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn(page, secret);
  await page.getByRole('link', { name: 'Keys' }).click();
  await page.getByRole('heading', { name: 'Keys', level: 1 }).waitFor(WAIT);
  t.match(await page.locator('#own-key').innerText(), /Signed in as ops[\s\S]*read on topic payroll[\s\S]*admin on the cluster/, 'a key made here sees what it may do');
});

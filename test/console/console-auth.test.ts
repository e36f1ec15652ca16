/**
 * The console against a node with --auth api-key, in Chromium: the page loads without
 * a key and asks for one; a wrong key is refused with the API's message; a key is kept
 * in the tab's session storage (never in the URL) and sent on every call, so a narrow
 * key sees only the topics it has grants on and the live tail streams with it; signing
 * out forgets it. The sign-in page passes axe-core.
 */
import t from 'tap';
import { launchBrowser } from '../helpers/browser.js';
import { startInProcessNode } from '../helpers/server.js';
import { describeViolations, screenshot, seriousViolations } from './page-checks.js';

const ADMIN_KEY = 'console-auth-admin-key-0123456789abcdef';
const WAIT = { timeout: 20_000 };

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
});

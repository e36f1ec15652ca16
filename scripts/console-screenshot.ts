/**
 * Writes docs/console.png, the README's picture of the console: starts a node from
 * dist/ on a temporary data directory, gives it a topic with records and a consumer
 * group with some lag, opens a topic's page in the machine's Chromium (playwright-core,
 * no browser download), starts its live tail, produces two records and screenshots it. Run by hand after `npm run build`:
 *
 *   node dist/scripts/console-screenshot.js [output.png]
 *
 * RUNNEL_CHROMIUM names another Chromium than /usr/bin/chromium.
 */
import path from 'node:path';
import { chromium } from 'playwright-core';
import { packageRoot } from '../src/util/package-info.js';
import { startRunnel } from './bench/runnel-node.js';

const output = process.argv[2] ?? path.join(packageRoot, 'docs', 'console.png');
const executablePath = process.env.RUNNEL_CHROMIUM ?? '/usr/bin/chromium';
const WAIT = { timeout: 20_000 };

async function post(origin: string, urlPath: string, body: unknown): Promise<void> {
  const response = await fetch(`${origin}${urlPath}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`POST ${urlPath}: ${response.status} ${await response.text()}`);
}

/** A topic of orders with a few records in each partition, and a group that has read some of them. */
async function seed(origin: string): Promise<void> {
  await post(origin, '/v1/topics', { name: 'orders', partitions: 3, configs: { 'retention.ms': '604800000' } });
  await post(origin, '/v1/topics', { name: 'payments', partitions: 2 });
  const items = ['book', 'lamp', 'kettle', 'chair', 'pen', 'mug'];
  const start = Date.UTC(2026, 0, 15, 9, 30);
  const records = Array.from({ length: 36 }, (_, index) => ({
    partition: index % 3,
    key: `customer-${40 + (index % 7)}`,
    value: { orderId: 1000 + index, item: items[index % items.length], quantity: 1 + (index % 3), total: Math.round((4.5 + index * 1.75) * 100) / 100 },
    headers: { source: index % 2 === 0 ? 'web' : 'mobile' },
    timestamp: start + index * 45_000,
  }));
  await post(origin, '/v1/topics/orders/records', { records });
  await post(origin, '/v1/groups/billing/offsets', { offsets: [0, 1, 2].map((partition) => ({ topic: 'orders', partition, offset: 9 })) });
}

async function main(): Promise<void> {
  const node = await startRunnel();
  const browser = await chromium.launch({ executablePath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  try {
    await seed(node.origin);
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 }, colorScheme: 'light' });
    await page.goto(`${node.origin}/console/#/topics/orders`);
    await page.getByRole('heading', { name: 'orders', level: 1 }).waitFor(WAIT);
    await page.locator('ol[aria-label="Records"] li.record').first().waitFor(WAIT);
    // The live tail, following partition 0 as two more orders come in.
    await page.getByRole('button', { name: 'Start live tail' }).click();
    await page.locator('#tail-status', { hasText: 'Following' }).waitFor(WAIT);
    await post(node.origin, '/v1/topics/orders/partitions/0/records', { records: [
      { key: 'customer-42', value: { orderId: 1036, item: 'lamp', quantity: 2, total: 39.9 }, headers: { source: 'web' } },
      { key: 'customer-17', value: { orderId: 1037, item: 'kettle', quantity: 1, total: 24.5 }, headers: { source: 'mobile' } },
    ] });
    await page.locator('ol[aria-label="Live records"] li.record').nth(1).waitFor(WAIT);
    await page.screenshot({ path: output });
    console.log(`wrote ${output}`);
  } finally {
    await browser.close();
    await node.stop();
  }
}

await main();

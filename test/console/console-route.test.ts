/**
 * How the node serves the console (src/http/console-route.ts), over HTTP against a real
 * node, with the built files of dist/console (`npm run build` first, as `npm test`
 * does):
 *   - /console redirects to /console/, which is index.html (revalidated: no-cache) naming
 *     hashed script and stylesheet files (cached for a year), each with its content type
 *     and a Content-Security-Policy that keeps the page to this node;
 *   - nothing outside the built files is reachable (.., encoded slashes, other names);
 *   - with --auth api-key the page is public, the API behind it is not;
 *   - --console false turns it off (404), and the routes are not in the OpenAPI document;
 *   - the whole console is under 300 KB gzipped.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import t from 'tap';
import { request } from 'undici';
import { consoleDirectory } from '../../src/http/console-route.js';
import { nodeOptionsFromSettings } from '../../src/node/node-options.js';
import { loadSettings } from '../../src/node/settings.js';
import { startInProcessNode } from '../helpers/server.js';

const ADMIN_KEY = 'console-route-admin-key-0123456789';
const BUNDLE_GZIPPED_MAX = 300 * 1024;

async function get(url: string, headers: Record<string, string> = {}) {
  const response = await request(url, { headers, signal: AbortSignal.timeout(10_000) });
  const body = await response.body.text();
  return { status: response.statusCode, headers: response.headers, body };
}

t.ok(fs.existsSync(path.join(consoleDirectory, 'index.html')), `the console is built in ${consoleDirectory} (npm run build)`);

void t.test('the node serves the built console at /console with content types, caching and a tight CSP', async (t) => {
  const node = await startInProcessNode(t);
  const bare = await get(`${node.url}/console`);
  t.equal(bare.status, 301, '/console redirects');
  t.equal(bare.headers.location, '/console/', 'to /console/ (so the page\'s relative file names resolve)');

  const index = await get(`${node.url}/console/`);
  t.equal(index.status, 200);
  t.match(index.headers['content-type'], /^text\/html; charset=utf-8/);
  t.equal(index.headers['cache-control'], 'no-cache', 'index.html is revalidated: a new build shows at once');
  t.match(index.headers['content-security-policy'], /default-src 'none'.*script-src 'self'.*connect-src 'self'/, 'the page may load and call this node only');
  t.equal(index.headers['x-content-type-options'], 'nosniff');
  const script = /<script type="module" src="(console-[A-Z0-9]+\.js)">/.exec(index.body)?.[1];
  const stylesheet = /<link rel="stylesheet" href="(console-[A-Z0-9]+\.css)">/.exec(index.body)?.[1];
  t.ok(script !== undefined && stylesheet !== undefined, 'index.html names a hashed script and stylesheet');
  t.notMatch(index.body, /https?:\/\//, 'and nothing from another site (the console works offline)');

  const js = await get(`${node.url}/console/${script}`);
  t.equal(js.status, 200);
  t.match(js.headers['content-type'], /^text\/javascript; charset=utf-8/);
  t.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable', 'hashed files are cached for good');
  const css = await get(`${node.url}/console/${stylesheet}`);
  t.match(css.headers['content-type'], /^text\/css; charset=utf-8/);
  t.match((await get(`${node.url}/console/favicon.svg`)).headers['content-type'], /^image\/svg\+xml/);
  const head = await request(`${node.url}/console/${script}`, { method: 'HEAD' });
  await head.body.dump();
  t.equal(head.statusCode, 200, 'HEAD works too');

  for (const probe of ['..%2Fpackage.json', '%2e%2e%2fpackage.json', '..%2F..%2Fpackage.json', '%2Fetc%2Fpasswd', 'index.html%00.js', 'nothing.js']) {
    const answer = await get(`${node.url}/console/${probe}`);
    t.equal(answer.status, 404, `/console/${probe}: 404`);
    t.notMatch(answer.body, /"name": ?"runnel"|root:/, 'and nothing from outside the console');
  }
  for (const probe of ['/console/../package.json', '/console/x/../../package.json', '/console//etc/passwd']) {
    t.not((await get(`${node.url}${probe}`)).status, 200, `${probe}: not served`);
  }

  const document = JSON.parse((await get(`${node.url}/openapi.json`)).body) as { paths: Record<string, unknown> };
  t.same(Object.keys(document.paths).filter((p) => p.startsWith('/console')), [], 'the console is not part of the API document');
});

void t.test('with --auth api-key the page is public and every API call needs a key', async (t) => {
  const node = await startInProcessNode(t, { broker: { adminKey: ADMIN_KEY }, app: { isAuthEnabled: true } });
  t.equal((await get(`${node.url}/console/`)).status, 200, 'the page loads without a key');
  t.equal((await get(`${node.url}/v1/cluster`)).status, 401, 'the API it calls does not');
  t.equal((await get(`${node.url}/v1/cluster`, { authorization: `Bearer ${ADMIN_KEY}` })).status, 200);
});

void t.test('--console false turns it off', async (t) => {
  t.equal(loadSettings([], {}).console, true, 'on by default');
  const settings = loadSettings(['--console', 'false'], {});
  t.equal(settings.console, false);
  t.equal(loadSettings([], { RUNNEL_CONSOLE: 'false' }).console, false, 'or RUNNEL_CONSOLE=false');
  const node = await startInProcessNode(t, { app: { isConsoleEnabled: nodeOptionsFromSettings(settings).app.isConsoleEnabled } });
  for (const route of ['/console', '/console/', '/console/favicon.svg']) {
    const answer = await get(`${node.url}${route}`);
    t.equal(answer.status, 404, `${route}: 404`);
    t.match(JSON.parse(answer.body), { error: { code: 'NOT_FOUND' } });
  }
});

void t.test('the whole console is under 300 KB gzipped', async (t) => {
  const files = fs.readdirSync(consoleDirectory);
  const gzipped = files.reduce((sum, file) => sum + zlib.gzipSync(fs.readFileSync(path.join(consoleDirectory, file)), { level: 9 }).length, 0);
  t.comment(`console: ${files.length} files, ${(gzipped / 1024).toFixed(1)} KB gzipped`);
  t.ok(gzipped < BUNDLE_GZIPPED_MAX, `${gzipped} bytes gzipped, under ${BUNDLE_GZIPPED_MAX}`);
});

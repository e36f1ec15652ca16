import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { settingsTable } from '../../src/node/settings.js';
import { errorCatalogue } from '../../src/errors.js';

const readme = fs.readFileSync(path.join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');

void t.test('the README configuration table lists every setting with its flag, variable and default', async (t) => {
  const table = /<!-- settings-table:start -->\n([\s\S]*?)<!-- settings-table:end -->/.exec(readme);
  t.ok(table, 'README has the settings table markers');
  t.equal(table?.[1], settingsTable(), 'README table is stale: run `npm run readme-settings`');
});

void t.test('the README error table names every code of the catalogue with its status', async (t) => {
  for (const [code, { status }] of Object.entries(errorCatalogue)) {
    const row = new RegExp(`^\\| ${status} \\|.*\\b${code}\\b`, 'm');
    t.match(readme, row, `${code} is listed under ${status}`);
  }
});

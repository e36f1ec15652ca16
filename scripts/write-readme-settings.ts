/**
 * Rewrites the configuration table in README.md from src/node/settings.ts:
 * `npm run readme-settings`. test/cli/readme-settings.test.ts fails when it is stale.
 */
import fs from 'node:fs';
import path from 'node:path';
import { settingsTable } from '../src/node/settings.js';
import { packageRoot } from '../src/util/package-info.js';

const readmePath = path.join(packageRoot, 'README.md');
const readme = fs.readFileSync(readmePath, 'utf8');
const updated = readme.replace(/(<!-- settings-table:start -->\n)[\s\S]*?(<!-- settings-table:end -->)/, `$1${settingsTable()}$2`);
fs.writeFileSync(readmePath, updated);
console.log(updated === readme ? 'README.md settings table already current' : 'rewrote the README.md settings table');

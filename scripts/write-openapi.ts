/**
 * Writes openapi/openapi.json from the route schemas: `npm run openapi`.
 * Commit the result; test/http/openapi.test.ts fails when it is stale.
 */
import fs from 'node:fs';
import path from 'node:path';
import { openApiDocument, openApiText } from '../src/node/openapi-document.js';
import { packageRoot } from '../src/util/package-info.js';

const target = path.join(packageRoot, 'openapi', 'openapi.json');
fs.mkdirSync(path.dirname(target), { recursive: true });
fs.writeFileSync(target, openApiText(await openApiDocument()));
console.log(`wrote ${path.relative(process.cwd(), target)}`);

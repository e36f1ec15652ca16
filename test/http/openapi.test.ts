import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { openApiDocument, openApiText } from '../../src/node/openapi-document.js';
import { errorCatalogue } from '../../src/errors.js';

const committedPath = path.join(import.meta.dirname, '..', '..', 'openapi', 'openapi.json');

void t.test('the committed openapi/openapi.json matches the route schemas (run `npm run openapi` after changing a route)', async (t) => {
  const committed = fs.readFileSync(committedPath, 'utf8');
  const generated = openApiText(await openApiDocument());
  t.equal(committed, generated, 'openapi/openapi.json is stale: run `npm run openapi` and commit it');
});

void t.test('every operation has a summary, a description and documents its error codes from the catalogue', async (t) => {
  const document = JSON.parse(fs.readFileSync(committedPath, 'utf8')) as {
    paths: Record<string, Record<string, { summary?: string; description?: string; responses: Record<string, { content?: Record<string, { schema?: unknown }> }> }>>;
  };
  let operations = 0;
  for (const [route, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      operations += 1;
      t.ok(operation.summary, `${method.toUpperCase()} ${route} has a summary`);
      t.ok(operation.description, `${method.toUpperCase()} ${route} has a description`);
      for (const status of Object.keys(operation.responses)) {
        const code = Number(status);
        if (code < 400 || route.startsWith('/health')) continue;
        const known = Object.values(errorCatalogue).some((entry) => entry.status === code);
        t.ok(known, `${method.toUpperCase()} ${route} answers ${code}, a status from the error catalogue`);
      }
    }
  }
  t.ok(operations >= 8, 'the document lists the API');
});

void t.test('the contract names its operations, its keys and its servers', async (t) => {
  const document = JSON.parse(fs.readFileSync(committedPath, 'utf8')) as {
    info: { title: string; license?: { name: string } };
    servers?: Array<{ url: string }>;
    security?: Array<Record<string, unknown>>;
    components: { securitySchemes?: Record<string, { type: string; scheme?: string; in?: string; name?: string }> };
    paths: Record<string, Record<string, { operationId?: string; security?: unknown[] }>>;
  };
  t.equal(document.info.title, 'Runnel API');
  t.equal(document.info.license?.name, 'Apache-2.0', 'the license');
  t.ok((document.servers ?? []).length > 0, 'servers');
  t.match(document.components.securitySchemes, { bearerAuth: { type: 'http', scheme: 'bearer' }, apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
    'both ways a node takes a key are security schemes (so /docs can authorise)');
  t.same(document.security, [{ bearerAuth: [] }, { apiKeyHeader: [] }], 'operations need one of them by default');
  const seen = new Map<string, string>();
  for (const [route, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const where = `${method.toUpperCase()} ${route}`;
      t.match(operation.operationId, /^[a-z][A-Za-z]+$/, `${where} has an operationId fit for a method name`);
      if (operation.operationId === undefined) continue;
      t.notOk(seen.has(operation.operationId), `${where}: operationId ${operation.operationId} is unique (also ${seen.get(operation.operationId)})`);
      seen.set(operation.operationId, where);
    }
  }
  t.same(document.paths['/health/live'].get.security, [], 'health needs no key');
  t.same(document.paths['/health/ready'].get.security, [], 'health needs no key');
});

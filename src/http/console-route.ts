/**
 * The web console (src/console/, built by `npm run build` into dist/console/) served
 * by the node itself at /console, on the API's port: nothing to install.
 *
 * The built files are read once, when the app is built, into a table by file name;
 * a request names a file of that table or gets 404, so no path reaches the disk and
 * none can climb out of the directory (`..`, `%2F`, absolute paths). index.html is
 * revalidated on every load (no-cache: a new build shows at once); the other files
 * carry a content hash in their names and are cached for a year (immutable).
 * The page is public, also with --auth api-key: it asks for a key and sends it on
 * every API call itself (src/http/auth.ts leaves /console open). The routes are left
 * out of the OpenAPI document: they are not part of the API.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { RunnelError } from '../errors.js';
import { packageRoot } from '../util/package-info.js';

export const CONSOLE_PREFIX = '/console';

/** Where `npm run build` writes the console (scripts/build-console.ts). */
export const consoleDirectory = path.join(packageRoot, 'dist', 'console');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** The console talks to this node only; it loads nothing from anywhere else and may not be framed. */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

interface ConsoleFile {
  body: Buffer;
  contentType: string;
  cacheControl: string;
}

/** The built files by name (flat: the build writes no sub-directories); empty when the console is not built. */
function readConsoleFiles(directory: string): Map<string, ConsoleFile> {
  const files = new Map<string, ConsoleFile>();
  if (!fs.existsSync(directory)) return files;
  for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
    const contentType = CONTENT_TYPES[path.extname(entry.name)];
    if (!entry.isFile() || contentType === undefined) continue;
    const cacheControl = entry.name === 'index.html' ? 'no-cache' : 'public, max-age=31536000, immutable';
    files.set(entry.name, { body: fs.readFileSync(path.join(directory, entry.name)), contentType, cacheControl });
  }
  return files;
}

function send(reply: FastifyReply, file: ConsoleFile): FastifyReply {
  return reply.headers({ ...SECURITY_HEADERS, 'content-type': file.contentType, 'cache-control': file.cacheControl }).send(file.body);
}

export function consoleRoutes(app: FastifyInstance, directory: string = consoleDirectory): void {
  const files = readConsoleFiles(directory);
  const index = files.get('index.html');
  const notBuilt = (): never => {
    throw new RunnelError('NOT_FOUND', `the console is not built (no ${path.join(directory, 'index.html')}): run npm run build`);
  };
  const hidden = { schema: { hide: true } };
  app.get(CONSOLE_PREFIX, hidden, async (_request, reply) => reply.redirect(`${CONSOLE_PREFIX}/`, 301));
  app.get(`${CONSOLE_PREFIX}/`, hidden, async (_request, reply) => (index === undefined ? notBuilt() : send(reply, index)));
  app.get<{ Params: { file: string } }>(`${CONSOLE_PREFIX}/:file`, hidden, async (request, reply) => {
    if (index === undefined) notBuilt();
    const file = files.get(request.params.file);
    if (file === undefined) throw new RunnelError('NOT_FOUND', `no console file ${JSON.stringify(request.params.file)}`);
    return send(reply, file);
  });
}

/**
 * application/x-ndjson produce bodies: one record object per line (blank lines
 * ignored). The result has the JSON body's shape, {records: [...]}, so the same
 * schema validates both.
 */
import type { FastifyInstance } from 'fastify';
import { RunnelError } from '../errors.js';

export function installNdjsonParser(app: FastifyInstance): void {
  // Request bodies are JSON or NDJSON only. Fastify also parses text/plain by default,
  // which let a text body reach schema validation as a string and answer 400
  // INVALID_REQUEST where the catalogue promises 415 UNSUPPORTED_MEDIA_TYPE.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('application/x-ndjson', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string;
    const records: unknown[] = [];
    let lineNumber = 0;
    let start = 0;
    while (start <= text.length) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      lineNumber += 1;
      const line = text.slice(start, end).trim();
      start = end + 1;
      if (line === '') continue;
      try {
        records.push(JSON.parse(line));
      } catch (error) {
        done(new RunnelError('INVALID_JSON', `line ${lineNumber} of the NDJSON body is not valid JSON: ${(error as Error).message}`), undefined);
        return;
      }
    }
    done(null, { records });
  });
}

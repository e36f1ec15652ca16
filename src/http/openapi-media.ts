/**
 * Request bodies whose wire form differs from what the route validates: an
 * application/x-ndjson produce body arrives as lines and is parsed into the JSON body's
 * shape ({records: [...]}, src/http/ndjson.ts) before validation, so the route schema
 * holds the JSON shape and the document shows the lines.
 */
import { produceLineSchema } from '../api/media-schemas.js';
import { produceBodySchema } from '../api/schemas.js';

const NDJSON = 'application/x-ndjson';

/** Operations whose body may be NDJSON. */
const NDJSON_BODIES = new Set(['produce', 'produceToPartition']);

interface BodyContent {
  content: Record<string, { schema: unknown }>;
}

/** The request body of an operation as the document shows it. */
export function documentedBody(operationId: string | undefined, body: unknown): unknown {
  if (operationId === undefined || !NDJSON_BODIES.has(operationId) || typeof body !== 'object' || body === null) return body;
  const content = 'content' in body ? (body as BodyContent).content : { 'application/json': { schema: produceBodySchema } };
  return { content: { ...content, [NDJSON]: { schema: produceLineSchema } } };
}

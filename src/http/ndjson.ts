/**
 * Request body parsers. application/x-ndjson produce bodies: one record object per line
 * (blank lines ignored); the result has the JSON body's shape, {records: [...]}, so the
 * same schema validates both.
 *
 * On the two produce routes, JSON and NDJSON bodies are first scanned byte by byte
 * (record/produce-body-scan.ts): a body the scan takes arrives as a ScannedProduceBody,
 * its records kept as spans of the body for the append to copy, and skips the schema
 * (the scan checked what the schema checks). A body the scan declines, valid or not, is
 * parsed here as it always was (JSON.parse, then the schema), so every refusal keeps its
 * code and message.
 */
import type { FastifyInstance, FastifyRequest, FastifySchemaCompiler } from 'fastify';
import { RunnelError } from '../errors.js';
import { limits } from '../limits.js';
import { ScannedProduceBody, scanJsonBody, scanNdjsonBody, type ScanLimits } from '../record/produce-body-scan.js';

const PRODUCE_URLS = new Set(['/v1/topics/:topic/records', '/v1/topics/:topic/partitions/:partition/records']);

const SCAN_LIMITS: ScanLimits = {
  depthMax: limits.jsonDepthMax,
  recordCountMax: limits.produceRecordCountMax,
  producerIdMax: limits.producerIdMax,
};

function isProduce(request: FastifyRequest): boolean {
  return request.method === 'POST' && PRODUCE_URLS.has(request.routeOptions.url ?? '');
}

export function installBodyParsers(app: FastifyInstance): void {
  // Request bodies are JSON or NDJSON only. Fastify also parses text/plain by default,
  // which let a text body reach schema validation as a string and answer 400
  // INVALID_REQUEST where the catalogue promises 415 UNSUPPORTED_MEDIA_TYPE.
  app.removeContentTypeParser('text/plain');
  // Fastify's own JSON parser (JSON.parse, no prototype scans: see app.ts) for every body the scan does not take.
  const parseJson = app.getDefaultJsonParser('ignore', 'ignore');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const bytes = body as Buffer;
    const scanned = isProduce(request) ? scanJsonBody(bytes, SCAN_LIMITS) : undefined;
    if (scanned !== undefined) done(null, scanned);
    // Fastify's parser answers through `done`; it returns nothing.
    else void parseJson(request, bytes.toString('utf8'), done);
  });
  app.addContentTypeParser('application/x-ndjson', { parseAs: 'buffer' }, (request, body, done) => {
    const bytes = body as Buffer;
    const scanned = isProduce(request) ? scanNdjsonBody(bytes, SCAN_LIMITS) : undefined;
    if (scanned !== undefined) {
      done(null, scanned);
      return;
    }
    try {
      done(null, { records: parseNdjson(bytes.toString('utf8')) });
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}

/** The record objects of an NDJSON body, parsed line by line. */
function parseNdjson(text: string): unknown[] {
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
      throw new RunnelError('INVALID_JSON', `line ${lineNumber} of the NDJSON body is not valid JSON: ${(error as Error).message}`);
    }
  }
  return records;
}

/**
 * The route's validator compiler, except that a scanned produce body passes its body
 * schema at once: the scan took only bodies the schema accepts.
 */
export function acceptScannedBodies(compile: FastifySchemaCompiler<unknown>): FastifySchemaCompiler<unknown> {
  return (route) => {
    const validate = compile(route);
    if (route.httpPart !== 'body') return validate;
    const lazy = validate as typeof validate & { schemaEnv?: boolean };
    const checked = ((data: unknown, context?: unknown) => {
      if (data instanceof ScannedProduceBody) return true;
      const isValid = (lazy as (data: unknown, context?: unknown) => boolean)(data, context);
      checked.errors = lazy.errors;
      return isValid;
    }) as typeof lazy;
    if (lazy.schemaEnv !== undefined) checked.schemaEnv = lazy.schemaEnv;
    return checked;
  };
}

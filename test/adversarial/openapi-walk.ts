/**
 * Reads the OpenAPI document a node serves (GET /openapi.json) into the list of
 * operations the fuzzer attacks, and makes a valid value for any schema in it, so a
 * mutation starts from a request the node would accept and changes one thing.
 *
 * Values name existing resources where the schema asks for one (a property or path
 * parameter called topic, group, member, keyId): the fuzzer seeds topics, groups,
 * members and keys first, so mutated requests reach the code behind a 404.
 */
import { pick } from '../helpers/seeded-random.js';

/** A JSON Schema as the document spells it (only the keywords the walk reads are typed). */
export interface Schema {
  type?: string;
  enum?: unknown[];
  example?: unknown;
  default?: unknown;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  nullable?: boolean;
  oneOf?: Schema[];
  anyOf?: Schema[];
  $ref?: string;
}

export interface Parameter {
  in: 'path' | 'query' | 'header';
  name: string;
  required: boolean;
  schema: Schema;
}

export interface Operation {
  method: string;
  /** The path template, e.g. /v1/topics/{topic}/records. */
  path: string;
  parameters: Parameter[];
  /** The application/json body schema, when the operation takes a body. */
  bodySchema?: Schema;
}

/** Existing resources to name in requests (filled in by the seeding step). */
export interface ResourcePool {
  topics: string[];
  groups: string[];
  members: string[];
  keyIds: string[];
}

interface OpenApiDocument {
  paths: Record<string, Record<string, { parameters?: Parameter[]; requestBody?: { content?: Record<string, { schema?: Schema }> } }>>;
  components?: { schemas?: Record<string, Schema> };
}

const METHODS = new Set(['get', 'post', 'put', 'patch', 'delete']);

/** Every public operation of the document (nothing under /internal), in document order. */
export function operationsOf(document: unknown): Operation[] {
  const doc = document as OpenApiDocument;
  const resolve = (schema: Schema | undefined): Schema | undefined => {
    const name = schema?.$ref?.replace('#/components/schemas/', '');
    return name === undefined ? schema : doc.components?.schemas?.[name];
  };
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    if (path.startsWith('/internal')) continue;
    for (const [method, operation] of Object.entries(item)) {
      if (!METHODS.has(method)) continue;
      operations.push({
        method: method.toUpperCase(),
        path,
        parameters: (operation.parameters ?? []).map((p) => ({ in: p.in, name: p.name, required: p.required === true, schema: resolve(p.schema) ?? {} })),
        bodySchema: resolve(operation.requestBody?.content?.['application/json']?.schema),
      });
    }
  }
  return operations;
}

const clone = <T>(value: T): T => (value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T));

/** A small integer within the schema's bounds (long-poll waits stay short: the fuzzer is bounded in time). */
function integerFor(schema: Schema, name: string, random: () => number): number {
  const low = schema.minimum ?? 0;
  // Partitions and offsets that exist in the seeded topics (3 partitions, a few records each).
  const cap = /wait/i.test(name) ? 200 : /^(partitions?|offset)$/.test(name) ? 2 : 100;
  const high = Math.min(schema.maximum ?? low + cap, low + cap);
  return low + Math.floor(random() * (high - low + 1));
}

/** A resource name for a property or parameter that names one, or undefined. */
export function resourceFor(name: string, pool: ResourcePool, random: () => number): string | undefined {
  const choose = (names: string[]): string | undefined => (names.length === 0 ? undefined : pick(random, names));
  if (name === 'topic' || name === 'topics') return choose(pool.topics);
  if (name === 'group') return choose(pool.groups);
  if (name === 'member' || name === 'memberId') return choose(pool.members);
  if (name === 'keyId') return choose(pool.keyIds);
  return undefined;
}

const ANY_VALUES: unknown[] = [1, 'text', true, null, { a: [1, 2] }, [1, 'b'], 0.5, ''];

/** A valid value for `schema`; `name` is the property or parameter it is for. */
export function exampleFor(schema: Schema, name: string, pool: ResourcePool, random: () => number, depth = 0): unknown {
  if (schema.type === 'string' || (schema.type === undefined && name === 'topic')) {
    const resource = resourceFor(name, pool, random);
    if (resource !== undefined && random() < 0.8) return resource;
  }
  if (schema.enum !== undefined) return clone(pick(random, schema.enum));
  if (schema.oneOf !== undefined || schema.anyOf !== undefined) {
    return exampleFor(pick(random, (schema.oneOf ?? schema.anyOf)!), name, pool, random, depth + 1);
  }
  if (schema.example !== undefined && random() < 0.5) return clone(schema.example);
  switch (schema.type) {
    case 'object': return objectFor(schema, pool, random, depth);
    case 'array': {
      const count = Math.max(schema.minItems ?? 0, 1 + Math.floor(random() * 3));
      return Array.from({ length: Math.min(count, schema.maxItems ?? count) }, () => exampleFor(schema.items ?? {}, name, pool, random, depth + 1));
    }
    case 'integer': return integerFor(schema, name, random);
    case 'number': return integerFor(schema, name, random) + 0.5;
    case 'boolean': return random() < 0.5;
    case 'string': {
      if (schema.default !== undefined) return schema.default;
      if (name === 'clientId') return 'fuzz-client';
      return `fuzz-${Math.floor(random() * 1000)}`;
    }
    default: return schema.example !== undefined ? clone(schema.example) : clone(pick(random, ANY_VALUES));
  }
}

function objectFor(schema: Schema, pool: ResourcePool, random: () => number, depth: number): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  const required = new Set(schema.required ?? []);
  for (const [property, propertySchema] of Object.entries(schema.properties ?? {})) {
    // A commit naming a member must carry that member's generation, so most leave both
    // out (an admin's commit from outside the group) and reach the code past the check.
    const omitChance = property === 'memberId' || property === 'generation' ? 0.85 : 0.4;
    if (!required.has(property) && random() < omitChance) continue;
    result[property] = exampleFor(propertySchema, property, pool, random, depth + 1);
  }
  if (schema.properties === undefined && schema.example !== undefined) return clone(schema.example) as Record<string, unknown>;
  return result;
}

/**
 * The Fastify type provider over the JSON schemas in src/api: a route's request.params,
 * query, headers and body get the types json-schema-to-ts derives from the very schemas
 * Fastify validates them with, and its reply the types of its response schemas, so a
 * route needs no casts and cannot drift from what it documents. It is the few lines of
 * @fastify/type-provider-json-schema-to-ts, written here rather than taken as a
 * dependency. A schema written in the route's options is read as a literal type as it
 * is; one declared apart (src/api) must be `as const` for its literal types to reach it.
 */
import type {
  FastifyBaseLogger, FastifyInstance, FastifyTypeProvider, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault,
} from 'fastify';
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import type { errorBodySchema, topicDescriptionSchema } from '../api/schemas.js';

/** The shared schemas the app registers (addSchema), which routes name by $ref. */
type Shared = { references: [typeof errorBodySchema, typeof topicDescriptionSchema] };

export interface SchemaTypeProvider extends FastifyTypeProvider {
  validator: this['schema'] extends JSONSchema ? FromSchema<this['schema'], Shared> : unknown;
  // A body-less answer (type null: 204) is sent with reply.send() and no payload.
  serializer: this['schema'] extends { type: 'null' } ? void
    : this['schema'] extends JSONSchema ? Serialized<FromSchema<this['schema'], Shared>> | PreSerialized : unknown;
}

/**
 * A reply object as the serialiser reads it: only the properties the schema lists are
 * written (fast-json-stringify drops the others), so the open index signature
 * json-schema-to-ts gives an object without additionalProperties: false is left out,
 * and a broker type with more properties than the schema still fits.
 */
type Serialized<T> =
  T extends Buffer ? T
    : T extends ReadonlyArray<infer Item> ? Array<Serialized<Item>>
      : T extends object ? { [K in keyof T as string extends K ? never : K]: Serialized<T[K]> }
        : T;

/**
 * An answer the route wrote itself: Fastify sends a Buffer or a string as it is, past
 * the schema's serialiser. The hot routes (produce, fetch, poll) write their JSON this
 * way; the schema still documents what the text holds.
 */
export type PreSerialized = Buffer | string;

/** The app as routes register on it: with request and reply types from their schemas. */
export type TypedApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, SchemaTypeProvider>;

export function typed(app: FastifyInstance): TypedApp {
  return app.withTypeProvider<SchemaTypeProvider>();
}

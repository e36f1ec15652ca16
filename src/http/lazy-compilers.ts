/**
 * Route schemas compiled on a route's first request, not at start-up. Fastify builds
 * every route's validators (Ajv) and response serializers (fast-json-stringify) when
 * the app starts; with some seventy routes that was about a third of a node's start-up
 * CPU, paid again by every restart and every in-process test server. Compiled lazily,
 * a route never called costs nothing, and a route's first request pays its compile
 * once (a few milliseconds); afterwards each call costs one check of a local variable.
 * The compiled code and its behaviour are Fastify's own: only the moment changes.
 */
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { ValidateFunction } from 'ajv';

/** What Fastify calls to validate one part of a request; `errors` read after a `false`. */
export interface LazyValidator {
  (data: unknown, context?: Parameters<ValidateFunction>[1]): boolean;
  errors?: ValidateFunction['errors'];
  /** Tells Fastify to pass the parent object, so Ajv may replace a coerced root value (as for an Ajv function). */
  schemaEnv: true;
}

export function lazyValidator(compile: () => ValidateFunction): LazyValidator {
  let validate: ValidateFunction | undefined;
  const lazy = ((data, context) => {
    validate ??= compile();
    const isValid = validate(data, context) as boolean;
    lazy.errors = validate.errors;
    return isValid;
  }) as LazyValidator;
  lazy.schemaEnv = true;
  return lazy;
}

type SerializerFactory = ReturnType<typeof SerializerSelector>;
type Serializer = ReturnType<ReturnType<SerializerFactory>>;

/** Fastify's own serializer factory (schemaController.compilersFactory.buildSerializer), compiling on first use. */
export function lazySerializerFactory(): SerializerFactory {
  const build = SerializerSelector();
  return (externalSchemas, options) => {
    const compile = build(externalSchemas, options);
    return (route) => {
      let serialize: Serializer | undefined;
      return (data: unknown) => (serialize ??= compile(route))(data);
    };
  };
}

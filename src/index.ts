/**
 * The package entry (package.json "main"/"types"): the TypeScript client and the
 * public API's types. The server is started with the `runnel serve` command, not
 * imported from here.
 */
export * from './client/index.js';
export type * from './api/types.js';
export { errorCatalogue, errorCodes, type ErrorCode } from './api/error-codes.js';
/** Format of a key or value: json, string (UTF-8) or binary (base64 in JSON). */
export type { ValueFormat as Format } from './api/types.js';

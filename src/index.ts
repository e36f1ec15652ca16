/**
 * The package entry (package.json "main"/"types"): the TypeScript client with its
 * types. The server is started with the `runnel serve` command, not imported from here.
 */
export * from './client/index.js';

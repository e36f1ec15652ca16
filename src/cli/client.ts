/**
 * The one place the CLI gets its HTTP client from: every command speaks to the node
 * through it, and only through the public API.
 */
export { Runnel, RunnelApiError, RunnelConnectionError } from './interim-client.js';
export type { ConsumedRecord, Format, Acks } from './interim-client.js';

/**
 * The one place the CLI gets its HTTP client from (src/client, the package's own
 * client): every command speaks to the node through it, and only through the public API.
 */
export { Runnel, RunnelApiError, RunnelConnectionError } from '../client/index.js';
export type { ConsumedRecord, GroupConsumer, ShareResetTarget } from '../client/index.js';
export type { Acks, ValueFormat as Format } from '../api/types.js';

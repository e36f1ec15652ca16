/** The TypeScript client: everything a user imports, with its types. */
export { Runnel, DEFAULT_URL, type RunnelOptions, type SendRequest, type FetchOptions } from './runnel.js';
export { Topics, Groups, Keys } from './admin.js';
export { Producer, type ProducerOptions } from './producer.js';
export { GroupConsumer, type ConsumerOptions } from './group-consumer.js';
export type { ConsumedRecord, CommitMode } from './consumer-loop.js';
export { AssignedConsumer, type AssignOptions } from './assigned-consumer.js';
export { ShareConsumer, type ShareConsumerOptions, type ShareRecord } from './share-consumer.js';
export { ShareGroups, type ShareGroupDescription, type ShareGroupSummary, type ShareResetTarget } from './share-groups.js';
export type { StreamOptions, StreamFormat } from './record-stream.js';
export type { WireFormat } from './record-batch.js';
export type { BackoffOptions } from './backoff.js';
export { RunnelClientError, RunnelApiError, RunnelConnectionError, type ClientErrorCode } from './client-errors.js';
// The public API's types the calls above take and return (derived from the server's schemas).
export type * from '../api/types.js';
/** Format of a key or value: json, string (UTF-8) or binary (base64 in JSON). */
export type { ValueFormat as Format } from '../api/types.js';
export { errorCatalogue, errorCodes, type ErrorCode } from '../api/error-codes.js';

/**
 * Share groups administered through the client (runnel.shareGroups): list, describe,
 * configs, reset and delete. Reading and acknowledging go through runnel.shareConsumer().
 */
import type { FromSchema } from 'json-schema-to-ts';
import type { shareGroupDescriptionSchema, shareGroupListSchema, shareResetResponseSchema } from '../api/share-schemas.js';
import type { Transport } from './transport.js';

export type ShareGroupDescription = FromSchema<typeof shareGroupDescriptionSchema>;
export type ShareGroupSummary = FromSchema<typeof shareGroupListSchema>['groups'][number];
export type ShareResetResult = FromSchema<typeof shareResetResponseSchema>;
export type ShareResetTarget = 'earliest' | 'latest' | { timestamp: number };

const sharePath = (group: string): string => '/v1/share-groups/' + encodeURIComponent(group);

export class ShareGroups {
  constructor(private readonly transport: Transport) {}

  async list(): Promise<ShareGroupSummary[]> {
    return (await this.transport.call<{ groups: ShareGroupSummary[] }>({ method: 'GET', path: '/v1/share-groups', isIdempotent: true })).groups;
  }

  describe(group: string): Promise<ShareGroupDescription> {
    return this.transport.call({ method: 'GET', path: sharePath(group), isIdempotent: true });
  }

  /** Sets configs (Kafka's share.* names; null: back to the node default); creates the group when new. */
  configure(group: string, configs: Record<string, string | number | null>): Promise<ShareGroupDescription> {
    return this.transport.call({ method: 'PATCH', path: sharePath(group), body: JSON.stringify({ configs }), isIdempotent: true });
  }

  /** Moves the start offset (of one topic, or every partition the group reads); only while no record is held. */
  reset(group: string, to: ShareResetTarget, options: { topic?: string } = {}): Promise<ShareResetResult> {
    return this.transport.call({ method: 'POST', path: sharePath(group) + '/reset', body: JSON.stringify({ topic: options.topic, to }), isIdempotent: true });
  }

  async delete(group: string): Promise<void> {
    await this.transport.call({ method: 'DELETE', path: sharePath(group), isIdempotent: false });
  }
}

/**
 * A share group's settings, under Kafka's names (KIP-932), set per group
 * (PATCH /v1/share-groups/{group}) over the node's defaults:
 *
 * - share.record.lock.duration.ms: how long an acquired record stays locked (30 s).
 * - share.delivery.count.limit: deliveries after which a record is archived (5).
 * - share.auto.offset.reset: where a share-partition starts when the group first
 *   reads it: latest (Kafka's default) or earliest.
 * - group.share.partition.max.record.locks: records in flight per share-partition (2000).
 * - share.dead.letter.topic: a topic (existing, not internal) that records archived by
 *   reject or by the delivery limit are produced to (share-dead-letter.ts); none by
 *   default. A step beyond Kafka, where it is only proposed.
 */
import { RunnelError } from '../../errors.js';
import type { ShareSettings } from './share-partition.js';

export interface ShareDefaults {
  lockDurationMs: number;
  deliveryCountLimit: number;
  maxRecordLocks: number;
}

export const SHARE_DEFAULTS: ShareDefaults = { lockDurationMs: 30_000, deliveryCountLimit: 5, maxRecordLocks: 2000 };

export interface ShareGroupSettings extends ShareSettings {
  autoOffsetReset: 'earliest' | 'latest';
}

interface IntegerConfig { field: 'lockDurationMs' | 'deliveryCountLimit' | 'maxRecordLocks'; minimum: number; maximum: number }

const INTEGER_CONFIGS: Record<string, IntegerConfig> = {
  'share.record.lock.duration.ms': { field: 'lockDurationMs', minimum: 100, maximum: 3_600_000 },
  'share.delivery.count.limit': { field: 'deliveryCountLimit', minimum: 1, maximum: 100 },
  'group.share.partition.max.record.locks': { field: 'maxRecordLocks', minimum: 1, maximum: 10_000 },
};
const AUTO_OFFSET_RESET = 'share.auto.offset.reset';
export const DEAD_LETTER_TOPIC = 'share.dead.letter.topic';

export const SHARE_CONFIG_NAMES = [...Object.keys(INTEGER_CONFIGS), AUTO_OFFSET_RESET, DEAD_LETTER_TOPIC];

/** Checks configs given over the API and returns them as stored (strings); 400 INVALID_CONFIG on any bad one. */
export function validateShareConfigs(configs: Record<string, unknown>): Record<string, string> {
  const valid: Record<string, string> = {};
  for (const [name, raw] of Object.entries(configs)) {
    const text = typeof raw === 'number' ? String(raw) : raw;
    if (typeof text !== 'string') throw new RunnelError('INVALID_CONFIG', `config '${name}' must be a string or a number`);
    if (name === AUTO_OFFSET_RESET) {
      if (text !== 'earliest' && text !== 'latest') throw new RunnelError('INVALID_CONFIG', `invalid value "${text}" for config '${name}': expected earliest or latest`);
      valid[name] = text;
      continue;
    }
    if (name === DEAD_LETTER_TOPIC) {
      // Whether the topic exists (and is not internal) is checked where topics are known (share-admin.ts).
      if (text === '') throw new RunnelError('INVALID_CONFIG', `invalid value "" for config '${name}': expected a topic name (null removes it)`);
      valid[name] = text;
      continue;
    }
    const definition = INTEGER_CONFIGS[name];
    if (definition === undefined) throw new RunnelError('INVALID_CONFIG', `unknown share group config '${name}'; known: ${SHARE_CONFIG_NAMES.join(', ')}`);
    const value = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < definition.minimum || value > definition.maximum) {
      throw new RunnelError('INVALID_CONFIG', `invalid value "${text}" for config '${name}': expected an integer from ${definition.minimum} to ${definition.maximum}`);
    }
    valid[name] = text;
  }
  return valid;
}

/** The effective settings of a group: its own configs over the node's defaults. Configs were validated when set. */
export function effectiveSettings(configs: Record<string, string>, defaults: ShareDefaults): ShareGroupSettings {
  const settings: ShareGroupSettings = {
    ...defaults, autoOffsetReset: configs[AUTO_OFFSET_RESET] === 'earliest' ? 'earliest' : 'latest', deadLetterTopic: configs[DEAD_LETTER_TOPIC],
  };
  for (const [name, definition] of Object.entries(INTEGER_CONFIGS)) {
    const value = configs[name];
    if (value !== undefined) settings[definition.field] = Number(value);
  }
  return settings;
}

/** Every config with its effective value, as describe answers. */
export function describeConfigs(settings: ShareGroupSettings): Record<string, string> {
  return {
    'share.record.lock.duration.ms': String(settings.lockDurationMs),
    'share.delivery.count.limit': String(settings.deliveryCountLimit),
    [AUTO_OFFSET_RESET]: settings.autoOffsetReset,
    'group.share.partition.max.record.locks': String(settings.maxRecordLocks),
    ...(settings.deadLetterTopic === undefined ? {} : { [DEAD_LETTER_TOPIC]: settings.deadLetterTopic }),
  };
}

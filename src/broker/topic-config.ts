/**
 * Topic configs with Kafka's names, meanings and validation. A topic stores only the
 * configs set on it; everything else falls back to the broker-wide default (Kafka's
 * log.* broker settings, from the config file) and then to Kafka's default.
 */
import { RunnelError } from '../errors.js';
import type { LogConfig } from '../storage/log-config.js';

type Parser = (raw: string) => string | undefined;

interface ConfigDefinition {
  /** Kafka's broker-level setting that supplies the default. */
  brokerName: string;
  defaultValue: string;
  /** Returns the normalised value, or undefined when invalid. */
  parse: Parser;
  expectation: string;
  description: string;
}

const longAtLeast = (minimum: number): Parser => (raw) => {
  if (!/^-?\d+$/.test(raw.trim())) return undefined;
  const value = Number(raw.trim());
  return Number.isSafeInteger(value) && value >= minimum ? String(value) : undefined;
};
const intAtLeast = (minimum: number): Parser => (raw) => {
  const value = longAtLeast(minimum)(raw);
  return value !== undefined && Number(value) <= 0x7fffffff ? value : undefined;
};
const oneOf = (...choices: string[]): Parser => (raw) => (choices.includes(raw.trim()) ? raw.trim() : undefined);
const LONG_MAX = '9223372036854775807';
const longMaxOr = (parser: Parser): Parser => (raw) => (raw.trim() === LONG_MAX ? LONG_MAX : parser(raw));
/** A decimal fraction in [0, 1] (min.cleanable.dirty.ratio). */
const ratio: Parser = (raw) => {
  if (!/^\s*(?:\d+(?:\.\d*)?|\.\d+)\s*$/.test(raw)) return undefined;
  const value = Number(raw.trim());
  return value >= 0 && value <= 1 ? String(value) : undefined;
};
/**
 * Kafka's cleanup.policy list: delete, compact or both in either order ('compact,delete'
 * and 'delete,compact' are the same policy and normalise to 'compact,delete').
 */
const cleanupPolicy: Parser = (raw) => {
  const parts = raw.split(',').map((part) => part.trim());
  if (parts.length === 0 || parts.length > 2 || parts.some((part) => part !== 'delete' && part !== 'compact')) return undefined;
  if (new Set(parts).size !== parts.length) return undefined;
  return parts.length === 2 ? 'compact,delete' : parts[0];
};

/**
 * Every topic config by name. A Map, not a plain object: names come from users, and a
 * plain-object lookup of 'constructor' or '__proto__' finds Object.prototype's members
 * (that used to answer 500 instead of INVALID_CONFIG).
 */
export const topicConfigDefinitions: ReadonlyMap<string, ConfigDefinition> = new Map(Object.entries({
  'cleanup.policy': { brokerName: 'log.cleanup.policy', defaultValue: 'delete', parse: cleanupPolicy, expectation: "'delete', 'compact' or 'compact,delete'", description: 'delete: old segments go by retention.ms/retention.bytes; compact: the cleaner keeps the latest record of every key; both: both.' },
  'min.cleanable.dirty.ratio': { brokerName: 'log.cleaner.min.cleanable.ratio', defaultValue: '0.5', parse: ratio, expectation: 'a number between 0 and 1', description: 'A compacted partition is cleaned once its uncleaned bytes are at least this share of its closed bytes.' },
  'min.compaction.lag.ms': { brokerName: 'log.cleaner.min.compaction.lag.ms', defaultValue: '0', parse: longAtLeast(0), expectation: 'an integer >= 0', description: 'A record stays uncompacted for at least this long after it was written.' },
  'max.compaction.lag.ms': { brokerName: 'log.cleaner.max.compaction.lag.ms', defaultValue: LONG_MAX, parse: longMaxOr(longAtLeast(1)), expectation: 'an integer >= 1', description: 'A record is compacted at the latest this long after it was written, whatever the dirty ratio.' },
  'delete.retention.ms': { brokerName: 'log.cleaner.delete.retention.ms', defaultValue: String(24 * 3600 * 1000), parse: longAtLeast(0), expectation: 'an integer >= 0', description: 'How long a tombstone (a key with a null value) is kept once a cleaning pass has seen it.' },
  'retention.ms': { brokerName: 'log.retention.ms', defaultValue: String(7 * 24 * 3600 * 1000), parse: longAtLeast(-1), expectation: 'an integer >= -1 (-1: keep forever)', description: 'Delete segments whose newest record is older than this.' },
  'retention.bytes': { brokerName: 'log.retention.bytes', defaultValue: '-1', parse: longAtLeast(-1), expectation: 'an integer >= -1 (-1: no limit)', description: 'Delete the oldest segments while a partition is larger than this.' },
  'segment.bytes': { brokerName: 'log.segment.bytes', defaultValue: String(1024 * 1024 * 1024), parse: intAtLeast(1024), expectation: 'an integer between 1024 and 2147483647', description: 'Roll to a new segment file at this size.' },
  'segment.ms': { brokerName: 'log.roll.ms', defaultValue: String(7 * 24 * 3600 * 1000), parse: longAtLeast(1), expectation: 'an integer >= 1', description: 'Roll to a new segment file after this long.' },
  'index.interval.bytes': { brokerName: 'log.index.interval.bytes', defaultValue: '4096', parse: intAtLeast(0), expectation: 'an integer >= 0', description: 'Bytes of log between two entries of the sparse offset index.' },
  'max.message.bytes': { brokerName: 'message.max.bytes', defaultValue: '1048588', parse: intAtLeast(0), expectation: 'an integer >= 0', description: 'Largest batch (all records of one request for one partition) the topic accepts.' },
  'min.insync.replicas': { brokerName: 'min.insync.replicas', defaultValue: '1', parse: intAtLeast(1), expectation: 'an integer >= 1', description: 'Replicas that must have a record before acks=all succeeds.' },
  'flush.messages': { brokerName: 'log.flush.interval.messages', defaultValue: LONG_MAX, parse: longMaxOr(longAtLeast(1)), expectation: 'an integer >= 1 (1: fsync before every acknowledgement)', description: 'fsync once this many messages are not yet on disk.' },
  'flush.ms': { brokerName: 'log.flush.interval.ms', defaultValue: LONG_MAX, parse: longMaxOr(longAtLeast(0)), expectation: 'an integer >= 0', description: 'fsync when data has waited this long.' },
  'message.timestamp.type': { brokerName: 'log.message.timestamp.type', defaultValue: 'CreateTime', parse: oneOf('CreateTime', 'LogAppendTime'), expectation: "'CreateTime' or 'LogAppendTime'", description: "Whose clock stamps records: the producer's or the node's at append." },
  'unclean.leader.election.enable': { brokerName: 'unclean.leader.election.enable', defaultValue: 'false', parse: oneOf('true', 'false'), expectation: "'true' or 'false'", description: 'Allow an out-of-sync replica to become leader (may lose records).' },
} satisfies Record<string, ConfigDefinition>));

/** True when `name` is a topic config (a user-supplied name: never looked up on a plain object). */
export function isTopicConfigName(name: string): boolean {
  return topicConfigDefinitions.has(name);
}

export type TopicConfigs = Record<string, string>;

/** Validates configs given by a user and returns them normalised to strings. */
export function validateTopicConfigs(input: Record<string, unknown>): TopicConfigs {
  const configs: TopicConfigs = {};
  for (const [name, raw] of Object.entries(input)) {
    const definition = topicConfigDefinitions.get(name);
    if (definition === undefined) {
      throw new RunnelError('INVALID_CONFIG', `unknown topic config '${name}'; known: ${[...topicConfigDefinitions.keys()].join(', ')}`);
    }
    const text = typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : undefined;
    const value = text === undefined ? undefined : definition.parse(text);
    if (value === undefined) {
      throw new RunnelError('INVALID_CONFIG', `invalid value ${JSON.stringify(raw)} for config '${name}': expected ${definition.expectation}`);
    }
    configs[name] = value;
  }
  return configs;
}

/** Broker-wide defaults keyed by Kafka's broker setting names (from the config file). */
export type BrokerTopicDefaults = Record<string, string>;

/** Validates broker-level defaults (log.retention.ms, ...) and returns them by topic config name. */
export function topicDefaultsFromBrokerSettings(settings: Record<string, unknown>): TopicConfigs {
  const byBrokerName = new Map([...topicConfigDefinitions].map(([name, d]) => [d.brokerName, name]));
  const defaults: TopicConfigs = {};
  for (const [brokerName, raw] of Object.entries(settings)) {
    const topicName = byBrokerName.get(brokerName);
    if (topicName === undefined) continue;
    try {
      Object.assign(defaults, validateTopicConfigs({ [topicName]: raw }));
    } catch (error) {
      throw new RunnelError('INVALID_CONFIG', `broker setting '${brokerName}': ${(error as Error).message}`);
    }
  }
  return defaults;
}

/** The effective value of every config: topic's own, else the broker default, else Kafka's. */
export function effectiveConfigs(topicConfigs: TopicConfigs, brokerDefaults: TopicConfigs): TopicConfigs {
  const effective: TopicConfigs = {};
  for (const [name, definition] of topicConfigDefinitions) {
    effective[name] = ownValue(topicConfigs, name) ?? ownValue(brokerDefaults, name) ?? definition.defaultValue;
  }
  return effective;
}

/**
 * Refuses a combination Kafka refuses too: min.compaction.lag.ms above
 * max.compaction.lag.ms. Checked on the effective configs a create or PATCH would give.
 */
export function checkConfigCombination(effective: TopicConfigs): void {
  const minLag = BigInt(effective['min.compaction.lag.ms']);
  const maxLag = BigInt(effective['max.compaction.lag.ms']);
  if (minLag > maxLag) {
    throw new RunnelError('INVALID_CONFIG', `config 'min.compaction.lag.ms' (${minLag}) must not be above 'max.compaction.lag.ms' (${maxLag})`);
  }
}

function ownValue(configs: TopicConfigs, name: string): string | undefined {
  return Object.hasOwn(configs, name) ? configs[name] : undefined;
}

function toNumber(value: string): number {
  const number = Number(value);
  return Number.isSafeInteger(number) ? number : Number.MAX_SAFE_INTEGER;
}

export function logConfigOf(effective: TopicConfigs): LogConfig {
  return {
    segmentBytes: toNumber(effective['segment.bytes']),
    segmentMs: toNumber(effective['segment.ms']),
    indexIntervalBytes: toNumber(effective['index.interval.bytes']),
    retentionMs: toNumber(effective['retention.ms']),
    retentionBytes: toNumber(effective['retention.bytes']),
    flushMessages: toNumber(effective['flush.messages']),
    flushMs: toNumber(effective['flush.ms']),
    isCompacted: effective['cleanup.policy'].includes('compact'),
    isDeleted: effective['cleanup.policy'].includes('delete'),
    minCleanableDirtyRatio: Number(effective['min.cleanable.dirty.ratio']),
    minCompactionLagMs: toNumber(effective['min.compaction.lag.ms']),
    maxCompactionLagMs: toNumber(effective['max.compaction.lag.ms']),
    deleteRetentionMs: toNumber(effective['delete.retention.ms']),
  };
}

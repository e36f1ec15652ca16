import { RunnelError } from '../errors.js';
import { limits } from '../limits.js';

const TOPIC_NAME_PATTERN = /^[a-zA-Z0-9._-]+$/;

/**
 * Kafka's rule for topic names: 1-249 of [a-zA-Z0-9._-], not '.' or '..'. A name that
 * passes can never be a path, which is why it may name a directory on disk.
 */
export function validateTopicName(name: string): void {
  if (name.length === 0 || name.length > limits.topicNameLengthMax || !TOPIC_NAME_PATTERN.test(name) || name === '.' || name === '..') {
    throw new RunnelError('INVALID_TOPIC_NAME', `invalid topic name ${JSON.stringify(name.slice(0, 300))}: use 1-${limits.topicNameLengthMax} characters of [a-zA-Z0-9._-], not '.' or '..'`);
  }
}

/** The directory of a partition's log: Kafka's `<topic>-<partition>`. */
export function logDirectoryName(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/**
 * Partition choice in the client, for records sent as record batches (a batch names one
 * partition): the node's own rule, so a record lands where a JSON produce to the topic
 * would put it. A keyed record goes to toPositive(murmur2(keyBytes)) % partitions, as
 * Kafka's Java client does; keyless records of one batch all go to one partition,
 * the next batch's to the next (KIP-480's sticky partitioner, one step per batch).
 *
 * The partition count comes from the topic's description (GET /v1/topics/{t}), kept
 * for metadataMaxAgeMs (Kafka's metadata.max.age.ms; default 30 s) and read again
 * sooner when a partition is refused; concurrent sends share one read.
 */
import type { TopicDescription } from '../api/types.js';
import { murmur2, toPositive } from '../util/murmur2.js';
import { topicPath } from './paths.js';
import type { Transport } from './transport.js';

/** How long a topic's partition count is trusted before it is read again (partitions can be added). */
export const METADATA_MAX_AGE_MS_DEFAULT = 30_000;

interface Known {
  count: number;
  readAtMs: number;
}

export class TopicPartitions {
  private readonly known = new Map<string, Known>();
  private readonly reading = new Map<string, Promise<number>>();
  /** Round-robin position of keyless batches, by topic; starts at random, as the node's does. */
  private readonly sticky = new Map<string, number>();

  constructor(private readonly transport: Transport, private readonly maxAgeMs = METADATA_MAX_AGE_MS_DEFAULT) {
    if (!(maxAgeMs >= 0)) throw new TypeError(`expected metadataMaxAgeMs to be >= 0, got ${maxAgeMs}`);
  }

  /** The topic's partition count, read when not known or older than maxAgeMs. */
  async count(topic: string, signal?: AbortSignal): Promise<number> {
    const known = this.known.get(topic);
    if (known !== undefined && Date.now() - known.readAtMs < this.maxAgeMs) return known.count;
    let reading = this.reading.get(topic);
    if (reading === undefined) {
      reading = this.read(topic, signal).finally(() => this.reading.delete(topic));
      this.reading.set(topic, reading);
    }
    return reading;
  }

  /** Forgets the count (a partition was refused, or the topic is gone): the next send reads it again. */
  forget(topic: string): void {
    this.known.delete(topic);
  }

  /** The partition of a keyed record. */
  static forKey(keyBytes: Uint8Array, count: number): number {
    return toPositive(murmur2(keyBytes)) % count;
  }

  /** The partition of the next batch's keyless records. */
  nextSticky(topic: string, count: number): number {
    const counter = this.sticky.get(topic) ?? Math.floor(Math.random() * 0x7fffffff);
    this.sticky.set(topic, (counter + 1) | 0);
    return toPositive(counter) % count;
  }

  private async read(topic: string, signal: AbortSignal | undefined): Promise<number> {
    const description = await this.transport.call<TopicDescription>({ method: 'GET', path: topicPath(topic), isIdempotent: true, signal });
    const count = description.partitions.length;
    this.known.set(topic, { count, readAtMs: Date.now() });
    return count;
  }
}

/**
 * Producer ids (Kafka's InitProducerId, KIP-98): POST /v1/producers hands out an id no
 * producer of the cluster ever had, with epoch 0. Ids come in blocks (KIP-730): on a
 * single node from meta.db, in a cluster from the controller, which records every
 * block in the metadata log; a block is used up from memory, and a restart takes a new
 * one (the rest of the old block is never used).
 */
import { RunnelError } from '../errors.js';
import { limits } from '../limits.js';

/** Takes the next block of ids: resolves with its first id and its length. */
export type TakeProducerIdBlock = () => Promise<{ firstProducerId: number; count: number }>;

export interface ProducerIdentity {
  producerId: number;
  producerEpoch: number;
}

export class ProducerIds {
  private next = 0;
  private end = 0;
  private refill: Promise<void> | undefined;

  constructor(private readonly takeBlock: TakeProducerIdBlock) {}

  async allocate(): Promise<ProducerIdentity> {
    while (this.next >= this.end) {
      this.refill ??= this.takeBlock().then(({ firstProducerId, count }) => {
        this.next = firstProducerId;
        this.end = firstProducerId + count;
      }).finally(() => {
        this.refill = undefined;
      });
      await this.refill;
    }
    const producerId = this.next++;
    if (producerId > limits.producerIdMax) throw new RunnelError('INTERNAL_ERROR', 'producer ids are used up');
    return { producerId, producerEpoch: 0 };
  }
}

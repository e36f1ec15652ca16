/**
 * INTERIM: a stand-in for src/client/ (being written at the same time) with the
 * interface the CLI was told to expect, so the commands and their end-to-end tests can
 * run before the real client lands. Replaced by a re-export of src/client/ in
 * src/cli/client.ts as soon as it exists; nothing else imports this file.
 */
import { Agent, request, type Dispatcher } from 'undici';
import type {
  FetchResponse, FetchedRecord, GroupDescription, GroupList, KeyInfo, OffsetsView, ProduceRecord, ProduceResponse, ResetBody,
  TopicDescription, Grant,
} from '../api/types.js';

export type Format = 'json' | 'string' | 'binary';
export type Acks = 'none' | 'leader' | 'all';

export class RunnelApiError extends Error {
  override name = 'RunnelApiError';
  constructor(readonly code: string, readonly status: number, message: string) {
    super(message);
  }
}

export class RunnelConnectionError extends Error {
  override name = 'RunnelConnectionError';
}

export interface RunnelOptions {
  url: string;
  apiKey?: string;
  timeoutMs?: number;
  retries?: number;
}

export interface TopicSummary { name: string; partitions: number; replicationFactor: number }
export type ConsumedRecord = FetchedRecord & { topic: string };

export class Runnel {
  private readonly agent = new Agent({ keepAliveTimeout: 10_000 });
  private readonly url: string;

  constructor(private readonly options: RunnelOptions) {
    this.url = options.url.replace(/\/+$/, '');
  }

  async call<T>(method: Dispatcher.HttpMethod, path: string, body?: unknown, query?: Record<string, string | number | boolean | undefined>): Promise<T> {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(query ?? {})) if (value !== undefined) search.set(name, String(value));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.apiKey !== undefined) headers.authorization = `Bearer ${this.options.apiKey}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Dispatcher.ResponseData;
    try {
      response = await request(this.url + path + (search.size === 0 ? '' : `?${search}`), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (error) {
      throw new RunnelConnectionError(`cannot reach ${this.url}: ${(error as Error).message}`);
    }
    const text = await response.body.text();
    const parsed: unknown = text === '' ? undefined : JSON.parse(text);
    if (response.statusCode >= 400) {
      const error = (parsed as { error?: { code: string; message: string } } | undefined)?.error;
      throw new RunnelApiError(error?.code ?? 'HTTP_' + response.statusCode, response.statusCode, error?.message ?? text);
    }
    return parsed as T;
  }

  readonly topics = {
    list: async (): Promise<TopicSummary[]> => (await this.call<{ topics: TopicSummary[] }>('GET', '/v1/topics')).topics,
    create: (body: { name: string; partitions?: number; replicationFactor?: number; configs?: Record<string, string> }): Promise<TopicDescription> =>
      this.call('POST', '/v1/topics', body),
    describe: (name: string): Promise<TopicDescription> => this.call('GET', `/v1/topics/${encodeURIComponent(name)}`),
    alter: (name: string, body: { partitions?: number; configs?: Record<string, string | null> }): Promise<TopicDescription> =>
      this.call('PATCH', `/v1/topics/${encodeURIComponent(name)}`, body),
    delete: async (name: string): Promise<void> => { await this.call('DELETE', `/v1/topics/${encodeURIComponent(name)}`); },
  };

  readonly groups = {
    list: async (): Promise<GroupList['groups']> => (await this.call<GroupList>('GET', '/v1/groups')).groups,
    describe: (group: string): Promise<GroupDescription> => this.call('GET', `/v1/groups/${encodeURIComponent(group)}`),
    offsets: (group: string): Promise<OffsetsView> => this.call('GET', `/v1/groups/${encodeURIComponent(group)}/offsets`),
    reset: (group: string, body: ResetBody): Promise<unknown> => this.call('POST', `/v1/groups/${encodeURIComponent(group)}/offsets/reset`, body),
    delete: async (group: string): Promise<void> => { await this.call('DELETE', `/v1/groups/${encodeURIComponent(group)}`); },
  };

  readonly keys = {
    list: async (): Promise<KeyInfo[]> => (await this.call<{ keys: KeyInfo[] }>('GET', '/v1/keys')).keys,
    create: (body: { name: string; grants: Grant[] }): Promise<KeyInfo & { key: string }> => this.call('POST', '/v1/keys', body),
    delete: async (keyId: string): Promise<void> => { await this.call('DELETE', `/v1/keys/${encodeURIComponent(keyId)}`); },
  };

  send(options: { topic: string; records: ProduceRecord[]; partition?: number; keyFormat?: Format; valueFormat?: Format; acks?: Acks }): Promise<ProduceResponse> {
    const path = options.partition === undefined
      ? `/v1/topics/${encodeURIComponent(options.topic)}/records`
      : `/v1/topics/${encodeURIComponent(options.topic)}/partitions/${options.partition}/records`;
    return this.call('POST', path, { records: options.records, keyFormat: options.keyFormat, valueFormat: options.valueFormat }, { acks: options.acks });
  }

  producer(options: { lingerMs?: number; batchSize?: number; maxInFlight?: number; acks?: Acks; keyFormat?: Format; valueFormat?: Format }): InterimProducer {
    return new InterimProducer(this, options);
  }

  fetch(topic: string, partition: number, options: { offset?: number | 'earliest' | 'latest'; maxRecords?: number; waitMs?: number }): Promise<FetchResponse> {
    return this.call('GET', `/v1/topics/${encodeURIComponent(topic)}/partitions/${partition}/records`, undefined, {
      offset: options.offset, maxRecords: options.maxRecords, waitMs: options.waitMs,
    });
  }

  consumer(options: { group: string; topics: string[]; autoOffsetReset?: 'earliest' | 'latest'; maxRecords?: number; waitMs?: number }): InterimConsumer {
    return new InterimConsumer(this, options);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

class InterimProducer {
  private queue: Array<{ topic: string; record: ProduceRecord; resolve: (value: unknown) => void; reject: (error: unknown) => void }> = [];
  private inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly client: Runnel, private readonly options: { lingerMs?: number; batchSize?: number; maxInFlight?: number; acks?: Acks; keyFormat?: Format; valueFormat?: Format }) {}

  send(topic: string, record: ProduceRecord): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.queue.push({ topic, record, resolve, reject });
      if (this.queue.length >= (this.options.batchSize ?? 500)) void this.drain();
      else this.timer ??= setTimeout(() => void this.drain(), this.options.lingerMs ?? 5);
    });
  }

  private async drain(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length > 0) {
      while (this.inFlight.size >= (this.options.maxInFlight ?? 4)) await Promise.race(this.inFlight);
      const batch = this.queue.splice(0, this.options.batchSize ?? 500);
      const byPartition = new Map<string, typeof batch>();
      for (const entry of batch) {
        const key = entry.topic + '\0' + (entry.record.partition ?? '');
        byPartition.set(key, [...(byPartition.get(key) ?? []), entry]);
      }
      for (const entries of byPartition.values()) {
        const sending = this.client.send({
          topic: entries[0].topic, records: entries.map((entry) => entry.record), acks: this.options.acks,
          keyFormat: this.options.keyFormat, valueFormat: this.options.valueFormat,
        }).then(
          (answer) => entries.forEach((entry, index) => entry.resolve(answer.offsets[index])),
          (error: unknown) => entries.forEach((entry) => entry.reject(error)),
        ).finally(() => this.inFlight.delete(sending));
        this.inFlight.add(sending);
      }
    }
  }

  async flush(): Promise<void> {
    await this.drain();
    await Promise.all(this.inFlight);
  }

  async close(): Promise<void> {
    await this.flush();
  }
}

class InterimConsumer implements AsyncIterable<ConsumedRecord> {
  private memberId: string | undefined;
  private generation = 0;
  private readonly positions = new Map<string, { topic: string; partition: number; offset: number }>();
  private isClosed = false;

  constructor(private readonly client: Runnel, private readonly options: { group: string; topics: string[]; autoOffsetReset?: 'earliest' | 'latest'; maxRecords?: number; waitMs?: number }) {}

  async *[Symbol.asyncIterator](): AsyncIterator<ConsumedRecord> {
    const group = encodeURIComponent(this.options.group);
    const joined = await this.client.call<{ memberId: string; generation: number }>('POST', `/v1/groups/${group}/members`, {
      topics: this.options.topics, autoOffsetReset: this.options.autoOffsetReset ?? 'latest',
    });
    this.memberId = joined.memberId;
    this.generation = joined.generation;
    let ack: number | undefined;
    while (!this.isClosed) {
      const polled = await this.client.call<{ generation: number; pollId: number; records: ConsumedRecord[] }>(
        'GET', `/v1/groups/${group}/members/${encodeURIComponent(this.memberId)}/records`, undefined,
        { waitMs: this.options.waitMs ?? 1000, maxRecords: this.options.maxRecords ?? 500, ack },
      );
      ack = polled.pollId;
      this.generation = polled.generation;
      for (const record of polled.records) {
        if (this.isClosed) return;
        this.positions.set(`${record.topic}\0${record.partition}`, { topic: record.topic, partition: record.partition!, offset: record.offset! + 1 });
        yield record;
      }
    }
  }

  async commit(): Promise<void> {
    if (this.memberId === undefined || this.positions.size === 0) return;
    await this.client.call('POST', `/v1/groups/${encodeURIComponent(this.options.group)}/offsets`, {
      offsets: [...this.positions.values()], memberId: this.memberId, generation: this.generation,
    });
    this.positions.clear();
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    await this.commit();
    if (this.memberId !== undefined) {
      await this.client.call('DELETE', `/v1/groups/${encodeURIComponent(this.options.group)}/members/${encodeURIComponent(this.memberId)}`);
    }
  }
}

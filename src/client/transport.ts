/**
 * Transport: one HTTP exchange with a Runnel node, retried when that is safe.
 *
 * - Deadline: a call, its retries, backoff and metadata refreshes included, ends within
 *   timeoutMs (plus the wait of a long-poll); past it the last failure is thrown.
 * - Attempts: a request safe to send twice (GETs, and writes carrying an
 *   Idempotency-Key) waits attemptTimeoutMs for one node's answer (a long-poll's wait
 *   on top: waiting for records is not a stall); then that node is suspect and the
 *   request is retried, on another node when there is one (routing.ts). Other requests
 *   have the whole deadline for their one attempt.
 * - Retried answers: 408, 429 and 503 (the node refused before doing anything) for
 *   every request except 503 REQUEST_TIMED_OUT; for a request safe to send twice, every
 *   503 (NOT_LEADER, NOT_ENOUGH_REPLICAS and REQUEST_TIMED_OUT after an append
 *   included: the retry carries the same Idempotency-Key) and 502/504. Network failures
 *   are retried only for requests safe to send twice, or that never left (connection
 *   refused). Other 4xx and 500 are answers, thrown at once as RunnelApiError.
 * - Backoff: exponential with full jitter, or the node's Retry-After when it sends one
 *   (plus up to a fifth of it at random).
 * - 503 NOT_LEADER naming another node (`leaderUrl`): the request goes there at once
 *   (without one, or naming the node itself, it waits Retry-After like any 503). For
 *   a partition's requests (/v1/topics/{t}/partitions/{p}/...) and a group's
 *   (/v1/groups/{g}/...) that leader is remembered for that partition or group, as
 *   Kafka's client keeps a leader per partition and a coordinator per group; for any
 *   other request the leader becomes the node the client talks to. A produce to a
 *   partition path and a group's request learn their leader or coordinator from the
 *   answer's Runnel-Served-By too, with no request of their own (served-by.ts).
 * - A node that timed out or failed a connection is suspect for a few seconds: requests
 *   go to another of `urls`, and those whose leader is suspect read the topic's
 *   metadata from another node until it names a new leader (Kafka's client likewise
 *   drops a node whose request timed out and refreshes its metadata). So a frozen or
 *   cut-off leader costs the cluster's failover time, not the fault's length.
 * - With a `rack`, a partition's reads go to an in-sync replica in that rack when it
 *   has one, and to the leader when that replica fails them (rack-reads.ts).
 */
import type { Dispatcher } from 'undici';
import { backoffDelayMs, defaultBackoff, isAborted, sleep, type BackoffOptions } from './backoff.js';
import { apiErrorFrom, RunnelApiError, RunnelClientError, RunnelConnectionError } from './client-errors.js';
import { isRetriableAnswer, NOT_SENT_CODES, retryAfterMs } from './retry-policy.js';
import { AttemptTimedOut, DeadlineReached, FOLLOWS_MAX, getJson, queryString, type BytesAnswer, type Exchange, type OnSuccess, type Outcome, type RequestSpec } from './exchange.js';
import { RackReads, type RackNode, type RackPartition } from './rack-reads.js';
import { WrittenOffsets } from './read-your-writes.js';
import { Routing, targetOf, type Target } from './routing.js';
import { SERVED_BY_HEADER, ServedByLeaders } from './served-by.js';

export type { BytesAnswer, HttpMethod, Query, RequestSpec } from './exchange.js';

export interface TransportOptions {
  urls: readonly string[];
  apiKey?: string;
  timeoutMs: number;
  /** Longest wait for one attempt's answer (a long-poll's wait on top) before a safe request tries another node. */
  attemptTimeoutMs: number;
  retries: number;
  dispatcher: Dispatcher;
  backoff?: BackoffOptions;
  /** The client's rack: partition reads prefer an in-sync replica in it (rack-reads.ts). */
  rack?: string;
}

/** Pause between two metadata refreshes while a request waits for a new leader. */
const REFRESH_INTERVAL_MS = 100;
/** Longest wait for a node's answer to a metadata request (is it alive, which leaders does it know). */
const PROBE_TIMEOUT_MS = 1_000;
/** Bound on the refreshes of one wait (the suspicion, SUSPECT_MS, ends it first). */
const REFRESH_ROUNDS_MAX = 100;

export class Transport {
  private readonly routing: Routing;
  /** Metadata refreshes in flight, by node and topic (sharedRefresh). */
  private readonly refreshing = new Map<string, Promise<boolean>>();
  private readonly baseHeaders: Record<string, string>;
  private readonly backoff: BackoffOptions;
  private readonly rackReads: RackReads | undefined;
  private readonly servedBy: ServedByLeaders;
  private readonly writes = new WrittenOffsets();

  constructor(private readonly options: TransportOptions) {
    if (!Number.isInteger(options.retries) || options.retries < 0) throw new TypeError(`expected retries to be a non-negative integer, got ${options.retries}`);
    if (!(options.timeoutMs > 0)) throw new TypeError(`expected timeoutMs to be positive, got ${options.timeoutMs}`);
    if (!(options.attemptTimeoutMs > 0)) throw new TypeError(`expected attemptTimeoutMs to be positive, got ${options.attemptTimeoutMs}`);
    this.routing = new Routing(options.urls);
    this.baseHeaders = { accept: 'application/json' };
    if (options.apiKey !== undefined) this.baseHeaders.authorization = `Bearer ${options.apiKey}`;
    this.backoff = options.backoff ?? defaultBackoff;
    this.servedBy = new ServedByLeaders(this.routing, async () => {
      const answer = await this.probe(this.routing.healthyNode() ?? this.routing.current, '/v1/cluster');
      const nodes = answer?.status === 200 ? (answer.body as { nodes?: unknown } | undefined)?.nodes : undefined;
      return Array.isArray(nodes) ? nodes as RackNode[] : undefined;
    });
    this.rackReads = options.rack === undefined ? undefined : new RackReads(options.rack, this.routing, {
      cluster: () => this.servedBy.readCluster(),
      topic: async (topic) => {
        await this.refreshTopic({ key: undefined, topic, isTopicProduce: false }, this.routing.healthyNode() ?? this.routing.current, Number.POSITIVE_INFINITY, undefined);
      },
    });
  }

  get timeoutMs(): number {
    return this.options.timeoutMs;
  }

  get retries(): number {
    return this.options.retries;
  }

  get backoffOptions(): BackoffOptions {
    return this.backoff;
  }

  /** The node requests go to now. */
  get url(): string {
    return this.routing.nodes[this.routing.current].href;
  }

  /** Every node the client knows: those it was given and leaders it was sent to. */
  get urls(): string[] {
    return this.routing.nodes.map((node) => node.href);
  }

  /**
   * Sends a request and parses its JSON answer (undefined for an empty one). A fetch of
   * records the client produced waits for them (read-your-writes.ts).
   */
  async call<T>(spec: RequestSpec): Promise<T> {
    const answer = await this.perform(this.writes.fetchSpec(spec), false, async (response, what) => {
      const text = await response.body.text();
      if (text === '') return undefined as T;
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new RunnelApiError('UNEXPECTED_RESPONSE', response.statusCode, `the answer to ${what} is not JSON: ${text.slice(0, 200)}`, {}, what);
      }
    });
    if (spec.method === 'POST') this.writes.onProduced(spec, answer);
    return answer;
  }

  /** Like call(), for an answer of bytes (a record-batch fetch): the body and the response's headers. */
  callBytes(spec: RequestSpec): Promise<BytesAnswer> {
    return this.perform(this.writes.fetchSpec(spec), false, async (response) => ({ bytes: Buffer.from(await response.body.arrayBuffer()), headers: response.headers }));
  }

  /**
   * Opens a streaming response: retried like call() until the status line arrives; the
   * body is then the caller's to read (and to destroy). The deadline stops applying
   * once the answer has begun; `signal` keeps working on the body.
   */
  async open(spec: RequestSpec): Promise<Dispatcher.ResponseData> {
    return this.perform(spec, true, (response) => response);
  }

  private async perform<R>(spec: RequestSpec, isStream: boolean, onSuccess: OnSuccess<R>): Promise<R> {
    const target = targetOf(spec.method, spec.path);
    const exchange: Exchange = {
      spec,
      what: `${spec.method} ${spec.path}`,
      target,
      pathAndQuery: spec.path + queryString(spec.query),
      headers: spec.body === undefined
        ? { ...this.baseHeaders, ...spec.headers }
        : { ...this.baseHeaders, 'content-type': 'application/json', ...spec.headers },
      deadlineMs: Date.now() + this.options.timeoutMs + (spec.waitMs ?? 0),
      timedOutAt: undefined,
      avoid: new Set(),
      // A read of a partition (its records or offsets): it may go to a replica in the client's rack.
      isRackRead: this.rackReads !== undefined && spec.method === 'GET' && target.key?.startsWith('partition ') === true,
      rackNode: undefined,
      follows: 0,
    };
    let lastError: RunnelClientError | undefined;
    let delayMs = 0;
    for (let attempt = 0; ; attempt++) {
      if (delayMs > 0) await sleep(Math.min(delayMs, exchange.deadlineMs - Date.now()), spec.signal);
      if (exchange.timedOutAt !== undefined) await this.diagnose(exchange, exchange.timedOutAt);
      const index = await this.route(exchange);
      const remainingMs = exchange.deadlineMs - Date.now();
      if (remainingMs <= 0) {
        throw lastError ?? new RunnelConnectionError(`${exchange.what}: no answer within ${this.options.timeoutMs} ms`, 'TIMEOUT', this.url);
      }
      if (isAborted(spec.signal)) throw spec.signal?.reason as Error;
      // Following a NOT_LEADER to the leader it names is a redirect, not a retry: during a
      // failover several may come in a row, and they must not spend the retry budget.
      const outcome = await this.attempt(exchange, index, attempt - exchange.follows, remainingMs, isStream, onSuccess);
      if (outcome.isDone) return outcome.value;
      ({ error: lastError, delayMs } = outcome);
    }
  }

  /**
   * The node for the next attempt. While its node is suspect (or, for a topic-level
   * produce, a leader of the topic is), metadata is read again from another node until
   * it names a leader that is not suspect or the suspicion ends, within the deadline.
   */
  private async route(exchange: Exchange): Promise<number> {
    const { routing } = this;
    const { target, spec } = exchange;
    // An answer just named this partition's leader or group's coordinator: its URL is being looked up.
    await this.servedBy.pendingRead(target.key);
    if (exchange.isRackRead) {
      // A replica in the client's rack serves it, whether or not the leader is known or suspect.
      const replica = await this.rackReads?.replicaFor(target.topic as string, target.key as string);
      exchange.rackNode = replica === undefined || exchange.avoid.has(replica) ? undefined : replica;
      if (exchange.rackNode !== undefined) return exchange.rackNode;
    }
    for (let round = 0; round < REFRESH_ROUNDS_MAX && routing.isHeldBack(target); round++) {
      const healthy = routing.healthyNode() as number;
      routing.current = healthy;
      if (target.topic === undefined || !(target.isTopicProduce || target.key !== undefined)) {
        // No metadata to read (a group, the cluster): the current node answers, or names the leader.
        routing.forget(target.key);
        continue;
      }
      await this.sharedRefresh(target, healthy);
      if (!routing.isHeldBack(target)) break;
      const waitMs = Math.min(REFRESH_INTERVAL_MS, exchange.deadlineMs - Date.now());
      if (waitMs <= 0) break;
      await sleep(waitMs, spec.signal);
    }
    const index = routing.nodeFor(target);
    return exchange.avoid.has(index) ? routing.healthyNode(exchange.avoid) ?? index : index;
  }

  /** refreshTopic, one at a time per node and topic: the requests waiting on a topic's new leader share it. */
  private sharedRefresh(target: Target, index: number): Promise<boolean> {
    const id = `${index} ${target.topic as string}`;
    let running = this.refreshing.get(id);
    if (running === undefined) {
      running = this.refreshTopic(target, index, Number.POSITIVE_INFINITY, undefined).finally(() => this.refreshing.delete(id));
      this.refreshing.set(id, running);
    }
    return running;
  }

  /**
   * A topic-level produce timed out at a node: the node may be frozen, cut off, or alive
   * and waiting for a partition leader it forwarded the records to. A node that does not
   * answer a short question (the topic's leaders), or that leads a partition of the
   * topic itself, is suspect. One that answers and leads none is waiting on a leader:
   * the request avoids it from now on (its first attempt still runs there), and the
   * leaders it names are asked too; those that do not answer are suspect, so route()
   * holds the request until the metadata names new ones.
   */
  private async diagnose(exchange: Exchange, index: number): Promise<void> {
    exchange.timedOutAt = undefined;
    const { target, deadlineMs, spec } = exchange;
    if (!(await this.refreshTopic(target, index, deadlineMs, spec.signal, true))) return;
    const leaders = new Set(this.routing.leadersOf(target.topic as string));
    if (leaders.has(index)) {
      // It leads a partition of the topic itself: it may be cut off from its followers and
      // the controller, still believing it leads. The others' metadata will tell.
      this.routing.markSuspect(index);
      return;
    }
    exchange.avoid.add(index);
    await Promise.all([...leaders].map((leader) => this.refreshTopic(target, leader, deadlineMs, spec.signal, false)));
  }

  /**
   * GET /v1/topics/{t} on a node: its partitions' leaders (learnt unless isLearning is
   * false: a node asked only whether it answers may hold stale metadata), and their
   * ISRs for rack reads. A node that does not answer becomes suspect. Returns whether
   * it answered.
   */
  private async refreshTopic(target: Target, index: number, deadlineMs: number, signal: AbortSignal | undefined, isLearning = true): Promise<boolean> {
    const topic = target.topic as string;
    const answer = await this.probe(index, `/v1/topics/${topic}`, deadlineMs, signal);
    if (answer === undefined) return false;
    if (!isLearning) return true;
    const partitions = answer.status === 200 ? (answer.body as { partitions?: unknown } | undefined)?.partitions : undefined;
    if (Array.isArray(partitions)) {
      this.routing.learnTopic(topic, partitions as Array<{ partition: number; leaderUrl: string | null }>);
      this.rackReads?.learnTopic(topic, partitions as RackPartition[]);
    } else {
      this.routing.forgetTopic(topic, target.key);
    }
    return true;
  }

  /**
   * A short GET (metadata) on a node: its status and JSON body (undefined when not
   * JSON); undefined when the node did not answer in time, and it is then suspect.
   */
  private async probe(index: number, path: string, deadlineMs = Number.POSITIVE_INFINITY, signal?: AbortSignal): Promise<{ status: number; body: unknown } | undefined> {
    const node = this.routing.nodes[index];
    const timeoutMs = Math.min(this.options.attemptTimeoutMs, PROBE_TIMEOUT_MS, deadlineMs - Date.now());
    if (timeoutMs <= 0) return undefined;
    try {
      const answer = await getJson(this.options.dispatcher, node, path, this.baseHeaders, AbortSignal.timeout(timeoutMs), signal);
      this.routing.markAnswered(index);
      return answer;
    } catch {
      if (isAborted(signal)) throw signal?.reason as Error;
      this.routing.markSuspect(index);
      return undefined;
    }
  }

  /** One try: the answer, or the failure and how long to wait before the next try; throws when there is no next. */
  private async attempt<R>(exchange: Exchange, index: number, attempt: number, remainingMs: number, isStream: boolean, onSuccess: OnSuccess<R>): Promise<Outcome<R>> {
    const { spec, what } = exchange;
    const node = this.routing.nodes[index];
    const controller = new AbortController();
    // A request safe to send again waits attemptTimeoutMs (and its long-poll) for this node, then tries another.
    const attemptMs = spec.isIdempotent ? this.options.attemptTimeoutMs + (spec.waitMs ?? 0) : Number.POSITIVE_INFINITY;
    const timer = attemptMs < remainingMs
      ? setTimeout(() => controller.abort(new AttemptTimedOut()), attemptMs)
      : setTimeout(() => controller.abort(new DeadlineReached()), remainingMs);
    const onAbort = (): void => controller.abort(spec.signal?.reason);
    spec.signal?.addEventListener('abort', onAbort, { once: true });
    let isHandedOver = false;
    try {
      const response = await this.options.dispatcher.request({
        origin: node.origin,
        path: node.prefix + exchange.pathAndQuery,
        method: spec.method,
        headers: exchange.headers,
        body: spec.body,
        signal: controller.signal,
        bodyTimeout: spec.bodyTimeoutMs,
      });
      this.routing.markAnswered(index);
      this.servedBy.onAnswer(exchange.target, response.statusCode, response.headers[SERVED_BY_HEADER]);
      if (response.statusCode >= 500) this.rackReads?.onFailure(exchange, index, true);
      if (response.statusCode >= 200 && response.statusCode < 300) {
        if (isStream) {
          // The body outlives this call: only the caller's signal may end it now.
          clearTimeout(timer);
          isHandedOver = true;
          response.body.once('close', () => spec.signal?.removeEventListener('abort', onAbort));
        }
        return { isDone: true, value: await onSuccess(response, what) };
      }
      const error = apiErrorFrom(response.statusCode, await response.body.text(), what);
      return { isDone: false, error, delayMs: this.retryDelayAfterAnswer(error, response, exchange, index, attempt) };
    } catch (error) {
      if (error instanceof RunnelClientError) throw error;
      this.rackReads?.onFailure(exchange, index, false);
      return this.retryAfterNetworkFailure(error, index, controller, exchange, attempt);
    } finally {
      if (!isHandedOver) {
        clearTimeout(timer);
        spec.signal?.removeEventListener('abort', onAbort);
      }
    }
  }

  /**
   * An error answer: NOT_LEADER naming another node is followed at once (up to
   * FOLLOWS_MAX times a call, not counted as retries); 408, 429 and
   * 503 (NOT_LEADER without a leader among them) are retried after
   * Retry-After (jittered) or the backoff, and for a request safe to send again so are
   * 502, 504 and 503 REQUEST_TIMED_OUT (the write may be committed; its retry is not
   * appended twice). Anything else is thrown.
   */
  private retryDelayAfterAnswer(error: RunnelApiError, response: Dispatcher.ResponseData, exchange: Exchange, index: number, attempt: number): number {
    const leaderUrl = error.details.leaderUrl;
    // A leader that is suspect is not tried at once: route() waits for fresher metadata.
    // A node naming itself (its leadership not yet in force) is waited for like any 503.
    if (error.code === 'NOT_LEADER' && typeof leaderUrl === 'string' && this.routing.indexOf(leaderUrl) !== index && exchange.follows < FOLLOWS_MAX) {
      this.routing.follow(leaderUrl, exchange.target.key);
      exchange.follows++;
      return 0;
    }
    if (!isRetriableAnswer(error, exchange.spec.isIdempotent) || attempt >= this.options.retries) throw error;
    // The node could not get the write to its replicas in time: another may know a newer leader.
    if (error.code === 'REQUEST_TIMED_OUT') this.routing.markSuspect(index);
    return retryAfterMs(response.headers) ?? backoffDelayMs(attempt, this.backoff);
  }

  /**
   * No answer: the node is suspect. Retried (with backoff, on another node when there is
   * one) only when the request is safe to send again or surely never left.
   */
  private retryAfterNetworkFailure(error: unknown, index: number, controller: AbortController, exchange: Exchange, attempt: number): Outcome<never> {
    const { spec, what } = exchange;
    const node = this.routing.nodes[index];
    if (isAborted(spec.signal)) throw spec.signal?.reason as Error;
    const reason: unknown = controller.signal.reason;
    // A topic-level produce may be waiting on a leader the node forwarded to: see diagnose().
    if (reason instanceof AttemptTimedOut && exchange.target.isTopicProduce) exchange.timedOutAt = index;
    else this.routing.markSuspect(index);
    if (reason instanceof DeadlineReached || reason instanceof AttemptTimedOut) {
      const waitedMs = reason instanceof DeadlineReached ? this.options.timeoutMs : this.options.attemptTimeoutMs;
      const timeout = new RunnelConnectionError(`${what} to ${node.href}: no answer within ${waitedMs} ms`, 'TIMEOUT', node.href, { cause: error });
      if (reason instanceof DeadlineReached || attempt >= this.options.retries) throw timeout;
      return { isDone: false, error: timeout, delayMs: 0 };
    }
    const code = (error as { code?: unknown }).code;
    const failure = new RunnelConnectionError(
      `${what} to ${node.href} failed: ${(error as Error).message}`,
      typeof code === 'string' ? code : undefined,
      node.href,
      { cause: error },
    );
    const isNotSent = typeof code === 'string' && NOT_SENT_CODES.has(code);
    if (!(spec.isIdempotent || isNotSent) || attempt >= this.options.retries) throw failure;
    return { isDone: false, error: failure, delayMs: backoffDelayMs(attempt, this.backoff) };
  }
}

/**
 * A tiny TCP proxy (node:net) between a client and a node that injects connection
 * faults, for tests of the client's retries and stream resumption:
 *
 *   const proxy = await startFaultProxy(t, server.url);
 *   proxy.dropReply(/^POST \/v1\/topics\/orders\/records/);   // next matching request:
 *       // forwarded whole, the node answers, and the connection is cut before a byte of
 *       // the answer reaches the client (the node did the work; the client saw nothing)
 *   proxy.cutResponse(/^GET .*records/, 600);   // cut after 600 bytes of the answer
 *   proxy.cutAll();                              // cut every open connection now
 *   proxy.block();                               // a network partition: cut every open
 *       // connection and reset every new one at once, until
 *   proxy.unblock();                             // connections pass again
 *   proxy.delayAnswers(300);                     // every byte from the target reaches the
 *       // client 300 ms late (a slow link one way; order kept), until delayAnswers(0)
 *
 * Requests are recognised by their request line at the start of a chunk from the
 * client (how undici writes them). Listens on 127.0.0.1:0 (or `port`); closed in
 * t.teardown. The target need not be listening yet (cluster tests start the proxies
 * between nodes before the nodes): a connection to a target that is down is reset.
 */
import net from 'node:net';

interface Rule {
  pattern: RegExp;
  /** Bytes of the answer to let through before cutting (0: none). */
  bytesAllowed: number;
  remaining: number;
}

export interface FaultProxy {
  url: string;
  /** Cut the next `count` matching exchanges once the node starts answering, before the client gets anything. */
  dropReply(pattern: RegExp, count?: number): void;
  /** Cut the next `count` matching exchanges after `bytes` bytes of the answer (headers included). */
  cutResponse(pattern: RegExp, bytes: number, count?: number): void;
  /** Cut every open connection now. */
  cutAll(): void;
  /**
   * Until unblock(): cut every open connection now and reset each new one as soon as it
   * is accepted, before a byte goes either way (to the client, a partitioned network).
   */
  block(): void;
  unblock(): void;
  readonly isBlocked: boolean;
  /**
   * From now on every chunk of an answer reaches the client `ms` later than the target
   * sent it (0: at once again), in order, on every connection open or new: a slow link
   * in one direction. A chunk already held keeps its time.
   */
  delayAnswers(ms: number): void;
  /** Request lines seen, in order (the newest requestCountMax). */
  readonly requests: string[];
  /** Connections cut so far (cutAll, block and the rules; refused ones not counted). */
  readonly cutCount: number;
  /** Connections reset on arrival while blocked. */
  readonly refusedCount: number;
  close(): Promise<void>;
}

export interface FaultProxyOptions {
  /** Listen port on 127.0.0.1; default 0 (any free port). */
  port?: number;
  /** Request lines kept in `requests` (the newest); default all. Long-lived proxies keep fewer. */
  requestCountMax?: number;
}

const REQUEST_LINE = /^(GET|POST|PATCH|PUT|DELETE|HEAD) \S+ HTTP\/1\.1/;

export async function startFaultProxy(
  t: { teardown: (fn: () => unknown) => void },
  targetUrl: string,
  options: FaultProxyOptions = {},
): Promise<FaultProxy> {
  const target = new URL(targetUrl);
  const rules: Rule[] = [];
  const sockets = new Set<net.Socket>();
  const clients = new Set<net.Socket>();
  const requests: string[] = [];
  let cutCount = 0;
  let refusedCount = 0;
  let isBlocked = false;
  let answerDelayMs = 0;
  const requestCountMax = options.requestCountMax ?? Number.POSITIVE_INFINITY;

  const cutAll = (): void => {
    for (const client of clients) {
      if (client.destroyed) continue;
      cutCount += 1;
      client.resetAndDestroy();
    }
  };

  const server = net.createServer((client) => {
    if (isBlocked) {
      refusedCount += 1;
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    clients.add(client);
    /** The rule armed by the request in flight on this connection, with the answer bytes it still lets through. */
    let armed: { bytesLeft: number } | undefined;
    /** Answer chunks held back by delayAnswers, oldest first, each with when it is due. */
    const held: Array<{ dueAtMs: number; chunk: Buffer }> = [];
    let releaseTimer: NodeJS.Timeout | undefined;
    const release = (): void => {
      releaseTimer = undefined;
      while (held.length > 0 && held[0].dueAtMs <= Date.now()) {
        const { chunk } = held.shift()!;
        if (!client.destroyed) client.write(chunk);
      }
      if (held.length > 0) releaseTimer = setTimeout(release, held[0].dueAtMs - Date.now());
      else if (isUpstreamClosed) end();
    };
    const toClient = (chunk: Buffer): void => {
      if (answerDelayMs === 0 && held.length === 0) {
        client.write(chunk);
        return;
      }
      held.push({ dueAtMs: Date.now() + answerDelayMs, chunk });
      releaseTimer ??= setTimeout(release, held[0].dueAtMs - Date.now());
    };
    let isUpstreamClosed = false;
    const cut = (): void => {
      cutCount += 1;
      client.resetAndDestroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      const head = chunk.subarray(0, 512).toString('latin1');
      const match = REQUEST_LINE.exec(head);
      if (match !== null) {
        const line = head.slice(0, head.indexOf('\r\n'));
        requests.push(line);
        if (requests.length > requestCountMax) requests.splice(0, requests.length - requestCountMax);
        const rule = rules.find((candidate) => candidate.remaining > 0 && candidate.pattern.test(line));
        if (rule !== undefined) rule.remaining -= 1;
        armed = rule === undefined ? undefined : { bytesLeft: rule.bytesAllowed };
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (armed === undefined) {
        toClient(chunk);
        return;
      }
      if (armed.bytesLeft > 0) toClient(chunk.subarray(0, armed.bytesLeft));
      armed.bytesLeft -= chunk.length;
      if (armed.bytesLeft < 0) cut();
    });
    const end = (): void => {
      clearTimeout(releaseTimer);
      held.length = 0;
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
      clients.delete(client);
    };
    client.on('close', end);
    upstream.on('close', () => {
      // The target closed while answers are still held: end after the last of them.
      isUpstreamClosed = true;
      if (held.length === 0) end();
    });
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as net.AddressInfo;

  const close = async (): Promise<void> => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t.teardown(close);
  return {
    url: `http://127.0.0.1:${port}`,
    dropReply: (pattern, count = 1) => rules.push({ pattern, bytesAllowed: 0, remaining: count }),
    cutResponse: (pattern, bytes, count = 1) => rules.push({ pattern, bytesAllowed: bytes, remaining: count }),
    cutAll,
    block: () => {
      isBlocked = true;
      cutAll();
    },
    unblock: () => {
      isBlocked = false;
    },
    get isBlocked() {
      return isBlocked;
    },
    delayAnswers: (ms) => {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`delayAnswers: expected ms >= 0, got ${ms}`);
      answerDelayMs = ms;
    },
    requests,
    get cutCount() {
      return cutCount;
    },
    get refusedCount() {
      return refusedCount;
    },
    close,
  };
}

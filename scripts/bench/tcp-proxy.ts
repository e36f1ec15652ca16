/**
 * A TCP proxy for the failover scenario: it passes bytes both ways between a client
 * and one target, and can cut the network: block() destroys every open connection
 * and resets each new one as it arrives, until unblock(). One proxy per ordered pair
 * of endpoints (node 1 -> node 2, bench -> node 3, ...), so a node can be cut off from
 * everything else while the rest still reach each other.
 *
 * Listens on 127.0.0.1, a free port; a connection to a target that is down is closed.
 */
import net from 'node:net';

export interface TcpProxy {
  readonly url: string;
  block(): void;
  unblock(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let isBlocked = false;
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const server = net.createServer((client) => {
    if (isBlocked) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    track(client);
    track(upstream);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    block() {
      isBlocked = true;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    unblock() {
      isBlocked = false;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Draining connections at shutdown. Node's server.close() stops accepting and waits
 * for every open connection to end, but it does not end a keep-alive connection that
 * is between requests, nor one that never sent a request (undici opens such sockets
 * after an aborted request): app.close() then waits until the client hangs up, and a
 * graceful shutdown runs into its timeout. So once closing begins, every connection
 * with no request in flight is ended at once, and every other one right after its
 * last response.
 */
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

const requestsOnSocket = Symbol('runnelRequestsOnSocket');
type TrackedSocket = Socket & { [requestsOnSocket]?: number };

export function installConnectionDraining(app: FastifyInstance): void {
  const sockets = new Set<TrackedSocket>();
  let isClosing = false;
  app.server.on('connection', (socket: TrackedSocket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // TLS servers report the raw socket on 'connection' and the TLS socket on requests.
  app.server.on('secureConnection', (socket: TrackedSocket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  app.addHook('onRequest', async (request, reply) => {
    const socket = request.raw.socket as TrackedSocket | null;
    if (socket === null) return;
    socket[requestsOnSocket] = (socket[requestsOnSocket] ?? 0) + 1;
    reply.raw.once('close', () => {
      const left = (socket[requestsOnSocket] ?? 1) - 1;
      socket[requestsOnSocket] = left;
      // Ends after the response has been written out.
      if (isClosing && left === 0) socket.destroySoon();
    });
  });
  app.addHook('preClose', async () => {
    isClosing = true;
    for (const socket of sockets) if ((socket[requestsOnSocket] ?? 0) === 0) socket.destroySoon();
  });
}

/**
 * `runnel serve`: build a node from the settings and start it (node/ owns the order:
 * listen, recover every log, join the cluster), and stop gracefully on
 * SIGTERM/SIGINT: stop accepting, end streams and long-polls, finish in-flight
 * requests, fsync and checkpoint every log, close SQLite, exit 0 — or exit 1 if that
 * takes longer than shutdownTimeoutMs. What is left here is the process's part:
 * signals and exit codes.
 */
import { nodeOptionsFromSettings } from '../node/node-options.js';
import { RunnelNode } from '../node/runnel-node.js';
import type { Settings } from '../node/settings.js';
import { InvariantError } from '../util/assert.js';

export async function serve(settings: Settings): Promise<void> {
  const options = nodeOptionsFromSettings(settings);
  const node = await RunnelNode.create({
    ...options,
    app: {
      ...options.app,
      // Stop before anything else is written; recovery on restart repairs the log.
      onInvariantBroken: () => setImmediate(() => process.exit(70)),
    },
  });
  // A throw outside every catch (a timer's callback, a default hook that rethrows) ends
  // the process as Node would, but with a fatal last line saying why.
  process.once('uncaughtException', (error) => {
    const isInvariant = error instanceof InvariantError;
    node.log.fatal({ err: error }, isInvariant ? 'invariant broken; stopping' : 'uncaught exception; stopping');
    process.exit(isInvariant ? 70 : 1);
  });
  let isShuttingDown = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (isShuttingDown) return;
    isShuttingDown = true;
    node.log.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      node.log.error(`shutdown took longer than ${settings.shutdownTimeoutMs} ms; exiting`);
      process.exit(1);
    }, settings.shutdownTimeoutMs);
    deadline.unref();
    try {
      await node.stop();
      node.log.info('stopped cleanly');
      process.exit(0);
    } catch (error) {
      node.log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  await node.start();
}

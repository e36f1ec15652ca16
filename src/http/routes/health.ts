import type { FastifyInstance } from 'fastify';
import type { Broker } from '../../broker/broker.js';
import type { ClusterNode } from '../../cluster/cluster-node.js';
import { openFileCount, openFilesSoftLimit } from '../../util/open-files.js';

/** After a request ran out of file descriptors, readiness says so for this long. */
const OUT_OF_FILES_REPORTED_MS = 10_000;

export interface HealthState {
  isStopping: () => boolean;
  outOfFiles: { lastAtMs: number | undefined };
}

/** Why the node cannot open files now, or undefined when it can. */
function openFilesProblem(limit: number | undefined, outOfFiles: HealthState['outOfFiles']): string | undefined {
  const open = openFileCount();
  const of = limit === undefined ? '' : ` of the limit ${limit} (ulimit -n)`;
  if (open === 'exhausted') return `out of file descriptors: every one${of} is in use; requests that open files get 503 TOO_MANY_OPEN_FILES`;
  const sinceMs = outOfFiles.lastAtMs === undefined ? Infinity : Date.now() - outOfFiles.lastAtMs;
  if (sinceMs < OUT_OF_FILES_REPORTED_MS) {
    return `a request ran out of file descriptors ${sinceMs} ms ago (${open ?? 'unknown'} open${of}); fewer partitions (--max-partitions) or a higher ulimit -n`;
  }
  return undefined;
}

const healthSchema = {
  type: 'object',
  required: ['status'],
  properties: {
    status: { type: 'string', enum: ['ok', 'unavailable'] },
    reason: { type: 'string' },
    diskFull: { type: 'boolean', description: 'True while produce is refused with 507 DISK_FULL (free space at or below --disk-free-min-bytes). Readiness stays 200: reads, group polls and commits are still served here.' },
    disk: {
      type: 'object',
      description: "The data directory's filesystem as last read (every second).",
      properties: {
        freeBytes: { type: 'integer' },
        freeMinBytes: { type: 'integer', description: 'The floor (--disk-free-min-bytes).' },
        totalBytes: { type: 'integer' },
      },
    },
    recovery: {
      type: 'object',
      description: 'What start-up recovery did.',
      properties: {
        partitions: { type: 'integer' },
        cleanPartitions: { type: 'integer', description: 'Partitions that needed no scan (clean shutdown).' },
        recoveredSegments: { type: 'integer' },
        truncatedBytes: { type: 'integer' },
        durationMs: { type: 'integer' },
      },
    },
  },
} as const;

export function healthRoutes(app: FastifyInstance, broker: Broker, state: HealthState, cluster?: ClusterNode): void {
  const { isStopping } = state;
  const openFilesLimit = openFilesSoftLimit();
  app.get('/health/live', {
    schema: {
      tags: ['health'],
      summary: 'Liveness',
      description: 'The process is up and serving HTTP.',
      response: { 200: healthSchema },
    },
  }, async () => ({ status: 'ok' }));

  app.get('/health/ready', {
    schema: {
      tags: ['health'],
      summary: 'Readiness',
      description: 'Storage recovered, metadata open and the node accepting requests; 503 with the reason while starting, stopping, catching up with the cluster, or out of file descriptors. A full disk keeps it 200 (reads still work) with diskFull: true.',
      response: { 200: healthSchema, 503: healthSchema },
    },
  }, async (_request, reply) => {
    if (isStopping() || !broker.isOpen) {
      reply.code(503);
      return { status: 'unavailable', reason: 'the node is shutting down' };
    }
    if (!broker.isReady) {
      reply.code(503);
      return { status: 'unavailable', reason: 'recovering storage' };
    }
    if (cluster !== undefined && !cluster.isCaughtUp) {
      reply.code(503);
      return { status: 'unavailable', reason: 'catching up with the cluster metadata log (no controller elected yet, or this node is behind)' };
    }
    const filesProblem = openFilesProblem(openFilesLimit, state.outOfFiles);
    if (filesProblem !== undefined) {
      reply.code(503);
      return { status: 'unavailable', reason: filesProblem };
    }
    // A full disk stops writes only: a load balancer keeps routing reads here.
    const { disk } = broker;
    return {
      status: 'ok',
      recovery: broker.recovery,
      diskFull: disk.isFull,
      // Absent until statfs has answered once (it never fails on a directory that exists).
      ...(Number.isFinite(disk.freeBytes)
        ? { disk: { freeBytes: Math.max(0, Math.floor(disk.freeBytes)), freeMinBytes: disk.freeMinBytes, totalBytes: disk.totalBytes } }
        : {}),
    };
  });
}

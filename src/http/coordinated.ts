/**
 * Calls about a group (a consumer group, a share group) are served by the group's
 * coordinator only: another node hands the call to it (hand-over.ts), and when it does
 * not answer, the caller gets a retriable refusal naming where things stand.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RunnelError } from '../errors.js';
import { isHandedOver, setServedBy, type HandOver } from './hand-over.js';

/** Where a group's coordinator is (broker/groups/offsets-log.ts, broker/share/share-placement.ts). */
export interface GroupPlacement {
  /** The coordinator's node id when it is another node. */
  coordinatorElsewhere(groupId: string): number | undefined;
  /** Why this node may not serve the group, if it may not. */
  notCoordinatorError(groupId: string): RunnelError | undefined;
}

export interface Coordinated {
  preHandler: (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;
}

export interface CoordinatedOptions {
  /** "group", "share group": for messages. */
  what: string;
  placement: GroupPlacement;
  handOver: HandOver | undefined;
  nodeId: number;
  /** Throws when this node may not serve the group (checked when no hand-over happened). */
  requireCoordinator: (groupId: string) => void;
  /** False: every call is served here (a share group on a single node). */
  isActive?: () => boolean;
  /** Runs first when active (e.g. the state topic made). */
  prepare?: () => Promise<void>;
}

export function coordinated(options: CoordinatedOptions): Coordinated {
  const { what, placement, handOver } = options;
  return {
    preHandler: async (request, reply) => {
      if (options.isActive?.() === false) return undefined;
      await options.prepare?.();
      const { group } = request.params as { group: string };
      const coordinator = placement.coordinatorElsewhere(group);
      if (coordinator !== undefined && handOver !== undefined && !isHandedOver(request)) {
        const waitMs = Number((request.query as { waitMs?: unknown } | undefined)?.waitMs ?? 0);
        return handOver.forward(request, reply, [coordinator], {
          isStream: false,
          waitMs: Number.isFinite(waitMs) ? waitMs : 0,
          unavailable: (why) => {
            const refusal = placement.notCoordinatorError(group);
            return refusal === undefined
              ? new RunnelError('NOT_READY', `${what} '${group}': node ${coordinator}, its coordinator, did not answer (${why}); this node leads its partition now, retry`)
              : new RunnelError(refusal.code, `${refusal.message}; it did not answer (${why})`, refusal.details);
          },
        });
      }
      options.requireCoordinator(group);
      setServedBy(reply.raw, options.nodeId);
      return undefined;
    },
  };
}

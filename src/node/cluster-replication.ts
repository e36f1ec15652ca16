/**
 * The broker's Replication in a cluster: leadership checks against the metadata the
 * node applied, the high watermark and acks=all from the replica manager.
 */
import type { ClusterNode } from '../cluster/cluster-node.js';
import { runnelErrorFromPeer } from '../cluster/peer-client.js';
import {
  chooseReadRoute, LeaderUnreachableError, type ForwardedProduce, type ReadRoute, type RemoteOffsets, type RemoteReadRequest, type RemoteReadResult, type Replication,
} from '../broker/replication.js';
import { REMOTE_OFFSETS_PATH, REMOTE_READ_PATH, remoteReadResult } from '../http/routes/internal-read.js';
import type { RecordOffset } from '../broker/produce-request.js';
import type { PartitionState } from '../broker/topic-state.js';


export class ClusterReplication implements Replication {
  readonly isClustered = true;

  constructor(private readonly cluster: ClusterNode, private readonly readLagMaxMs: number) {}

  get nodeId(): number {
    return this.cluster.nodeId;
  }

  nodeUrl(nodeId: number): string | null {
    return this.cluster.nodeUrl(nodeId);
  }

  readRoute(state: PartitionState, isHandedOver: boolean): ReadRoute {
    return chooseReadRoute(this, state, isHandedOver, this.cluster.replicas.leaderContactOf(state), this.readLagMaxMs);
  }

  leaderHighWatermark(state: PartitionState): number {
    if (state.leader === this.nodeId) return state.log.highWatermark;
    return Math.max(state.log.highWatermark, this.cluster.replicas.leaderContactOf(state)?.highWatermark ?? -1);
  }

  onAppend(state: PartitionState): void {
    this.cluster.replicas.onAppend(state);
  }

  waitForHighWatermark(state: PartitionState, lastOffset: number, minInsyncReplicas: number, timeoutMs: number): Promise<void> {
    return this.cluster.replicas.waitForHighWatermark(state, lastOffset, minInsyncReplicas, timeoutMs);
  }

  /** POST /internal/v1/produce on the leader; its coded refusal (NOT_LEADER, ...) becomes this request's. */
  async forwardProduce(leaderId: number, request: ForwardedProduce, timeoutMs: number, signal?: AbortSignal): Promise<RecordOffset[]> {
    try {
      const answer = await this.cluster.peers.post<{ offsets: RecordOffset[] }>(leaderId, '/internal/v1/produce', request, timeoutMs, signal);
      return answer.offsets;
    } catch (error) {
      throw peerErrorAsRunnelError(error, leaderId, this.cluster.nodeUrl(leaderId));
    }
  }

  /** POST /internal/v1/read on a replica; its coded refusal (NOT_LEADER, OFFSET_OUT_OF_RANGE, ...) comes back as a RunnelError. */
  async readRemote(nodeId: number, request: RemoteReadRequest, timeoutMs: number, signal?: AbortSignal): Promise<RemoteReadResult> {
    try {
      return remoteReadResult(await this.cluster.peers.postForBytes(nodeId, REMOTE_READ_PATH, request, timeoutMs, signal));
    } catch (error) {
      throw runnelErrorFromPeer(error, `node ${nodeId}: `) ?? error;
    }
  }

  /** POST /internal/v1/offsets on a replica. */
  async remoteOffsets(nodeId: number, request: { topic: string; partition: number; timestampMs?: number }, timeoutMs: number): Promise<RemoteOffsets> {
    try {
      return await this.cluster.peers.post<RemoteOffsets>(nodeId, REMOTE_OFFSETS_PATH, request, timeoutMs);
    } catch (error) {
      throw runnelErrorFromPeer(error, `node ${nodeId}: `) ?? error;
    }
  }
}

/** A leader's coded answer keeps its code; a leader that cannot be reached is NOT_LEADER (LeaderUnreachableError). */
function peerErrorAsRunnelError(error: unknown, leaderId: number, leaderUrl: string | null): Error {
  return runnelErrorFromPeer(error, `node ${leaderId}: `) ?? new LeaderUnreachableError(leaderId, leaderUrl, (error as Error).message);
}

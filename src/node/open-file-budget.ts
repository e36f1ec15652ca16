/**
 * How many partitions this node takes: --max-partitions, lowered to what the process's
 * open-file limit allows (each partition keeps its active segment's three files open),
 * so a topic create that the limit could not hold is refused with 400 before any file
 * is made, instead of failing half-way with EMFILE.
 */
import { limits } from '../limits.js';

export interface PartitionBudget {
  /** The cap in force. */
  partitionsMax: number;
  /** --max-partitions as set. */
  configured: number;
  /** The soft open-file limit (ulimit -n), when known. */
  openFilesLimit: number | undefined;
  /** Partitions that limit allows, when known. */
  openFilesAllow: number | undefined;
}

export function partitionBudget(configured: number, openFilesLimit: number | undefined): PartitionBudget {
  if (openFilesLimit === undefined) return { partitionsMax: configured, configured, openFilesLimit, openFilesAllow: undefined };
  const reserved = Math.min(limits.openFilesReserved, Math.floor(openFilesLimit / 4));
  const openFilesAllow = Math.max(1, Math.floor((openFilesLimit - reserved) / limits.openFilesPerPartition));
  return { partitionsMax: Math.min(configured, openFilesAllow), configured, openFilesLimit, openFilesAllow };
}

/**
 * The console's only way to the node: its public REST API, same origin, with the API
 * key (when one is signed in) in the Authorization header of every call. The key is
 * kept in sessionStorage (gone when the tab closes), never in a URL or a cookie.
 */
const KEY_STORAGE = 'runnel.console.apiKey';

/** An answer of the API's error shape ({"error":{"code","message"}}), or a network failure (code NETWORK). */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** An error as the console shows it: the API's code and message, or the browser's message. */
export function errorText(error: unknown): string {
  return error instanceof ApiError ? `${error.code}: ${error.message}` : (error as Error).message;
}

export function storedKey(): string | undefined {
  return sessionStorage.getItem(KEY_STORAGE) ?? undefined;
}

export function storeKey(key: string | undefined): void {
  if (key === undefined) sessionStorage.removeItem(KEY_STORAGE);
  else sessionStorage.setItem(KEY_STORAGE, key);
}

export function authHeaders(): Record<string, string> {
  const key = storedKey();
  return key === undefined ? {} : { authorization: `Bearer ${key}` };
}

async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.code !== undefined) return new ApiError(response.status, body.error.code, body.error.message ?? body.error.code);
  } catch {
    // Not our error shape (a proxy's page): say what came back.
  }
  return new ApiError(response.status, `HTTP_${response.status}`, `${response.status} ${response.statusText}: ${text.slice(0, 200)}`);
}

/** Called when the node answers 401: the console asks for a key. */
let onUnauthenticated: (error: ApiError) => void = () => undefined;
export function whenUnauthenticated(handler: (error: ApiError) => void): void {
  onUnauthenticated = handler;
}

export async function call<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: { accept: 'application/json', ...authHeaders(), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, 'NETWORK', `the node did not answer: ${(error as Error).message}`);
  }
  if (!response.ok) {
    const error = await errorOf(response);
    if (response.status === 401) onUnauthenticated(error);
    throw error;
  }
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export const topicPath = (topic: string): string => `/v1/topics/${encodeURIComponent(topic)}`;

export interface ClusterView {
  clusterId: string | null;
  controller: number | null;
  nodes: Array<{ nodeId: number; url: string; rack: string | null; state: 'online' | 'fenced' | 'unknown' }>;
  metadata?: { leaderId: number | null; epoch: number; highWatermark: number; appliedOffset: number };
}

export interface TopicSummary {
  name: string;
  partitions: number;
  replicationFactor: number;
}

export interface PartitionView {
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
  logStartOffset: number;
  highWatermark: number;
  logEndOffset: number;
  sizeBytes: number;
}

export interface TopicView {
  name: string;
  topicId: string;
  replicationFactor: number;
  configs: Record<string, string>;
  partitions: PartitionView[];
}

export interface FetchedRecord {
  partition: number;
  offset: number;
  timestamp: number;
  key: unknown;
  value: unknown;
  headers: Record<string, string | null>;
  keyFormat?: string;
  valueFormat?: string;
}

export interface FetchAnswer {
  records: FetchedRecord[];
  nextOffset: number;
  highWatermark: number;
  logStartOffset: number;
}

export const groupPath = (group: string): string => `/v1/groups/${encodeURIComponent(group)}`;

export type GroupState = 'Empty' | 'Stable' | 'Reconciling';

export interface GroupSummary {
  groupId: string;
  state: GroupState;
  members: number;
  lag: number;
}

export interface TopicPartitions {
  topic: string;
  partitions: number[];
}

export interface GroupOffset {
  topic: string;
  partition: number;
  offset: number | null;
  metadata?: string | null;
  committedAtMs?: number | null;
  logEndOffset: number;
  lag: number | null;
}

export interface GroupMember {
  memberId: string;
  clientId?: string;
  generation?: number;
  subscription?: { topics?: string[]; topicPrefix?: string; topicPattern?: string };
  assignment?: TopicPartitions[];
  targetAssignment?: TopicPartitions[];
  revoking?: TopicPartitions[];
  sessionTimeoutMs?: number;
  lastSeenMsAgo?: number;
}

export interface GroupDescription {
  groupId: string;
  state: GroupState;
  groupEpoch: number;
  assignor: string;
  members: GroupMember[];
  offsets: GroupOffset[];
  lag: number;
}

/** Where a reset moves a topic's committed offsets. */
export type ResetTarget = 'earliest' | 'latest' | { timestamp: number } | { offset: number };

export interface Grant {
  resource: 'topic' | 'group' | 'cluster';
  name?: string;
  prefix?: string;
  operations: Array<'read' | 'write' | 'admin'>;
}

export interface KeyInfo {
  keyId: string;
  name: string;
  grants: Grant[];
  createdAtMs: number;
}

/**
 * The status a GET would get, without showing the sign-in form on 401: used to leave
 * out of the navigation the pages the key may not read (403); `withKey: false` asks
 * whether the node wants a key at all (401).
 */
export async function probe(path: string, withKey = true): Promise<number> {
  try {
    const response = await fetch(path, { headers: { accept: 'application/json', ...(withKey ? authHeaders() : {}) } });
    await response.body?.cancel();
    return response.status;
  } catch {
    return 0;
  }
}

/** GET of a text resource (GET /metrics), without the sign-in form on 401: undefined when not answered 200. */
export async function getText(path: string): Promise<string | undefined> {
  try {
    const response = await fetch(path, { headers: authHeaders() });
    if (response.ok) return await response.text();
    await response.body?.cancel();
  } catch {
    // The node restarting: the next sample tries again.
  }
  return undefined;
}

/**
 * Overview: the cluster at a glance: its id, nodes (online / fenced), controller and
 * metadata position, topic and group counts, and the partitions that need attention:
 * under-replicated (fewer in-sync replicas than replicas) and offline (no leader);
 * and live charts of this node's produce and fetch rates, from its own GET /metrics.
 */
import { call, getText, topicPath, type ClusterView, type TopicSummary, type TopicView } from './api.js';
import { chart, counterTotal, sampleEvery } from './charts.js';
import { h, message, replace, type PageContext } from './dom.js';

/** Topics described to find partitions needing attention, at most (one request each). */
const TOPICS_CHECKED_MAX = 200;

interface Trouble {
  topic: string;
  partition: number;
  kind: 'offline' | 'under-replicated';
  leader: number;
  replicas: number[];
  isr: number[];
}

function troublesOf(topic: TopicView): Trouble[] {
  return topic.partitions.flatMap((p): Trouble[] => {
    const base = { topic: topic.name, partition: p.partition, leader: p.leader, replicas: p.replicas, isr: p.isr };
    if (p.leader < 0) return [{ ...base, kind: 'offline' }];
    if (p.isr.length < p.replicas.length) return [{ ...base, kind: 'under-replicated' }];
    return [];
  });
}

function stat(label: string, value: string | number, tone: 'plain' | 'warn' | 'bad' = 'plain', href?: string): HTMLElement {
  return h('div', { class: `stat ${tone}` }, h('dt', {}, label), h('dd', {}, href === undefined ? String(value) : h('a', { href }, String(value))));
}

/**
 * Records in (produced) and out (fetched, streamed, polled) per second on this node:
 * the growth of runnel_records_in_total and runnel_records_out_total between samples
 * of GET /metrics. Left out when the node does not show its metrics to this key.
 */
function rateCharts(signal: AbortSignal): HTMLElement {
  const produced = chart('chart-produce', 'Produced', 'records/s');
  const fetched = chart('chart-fetch', 'Fetched', 'records/s');
  const section = h('section', { class: 'card charts', 'aria-labelledby': 'rates-heading' },
    h('h2', { id: 'rates-heading' }, 'This node\'s rates'),
    h('div', { class: 'chart-row' }, produced.element, fetched.element));
  let previous: { at: number; in: number; out: number } | undefined;
  sampleEvery(signal, async () => {
    const text = await getText('/metrics');
    if (text === undefined) {
      section.hidden = true;
      return;
    }
    section.hidden = false;
    const sample = { at: Date.now(), in: counterTotal(text, 'runnel_records_in_total'), out: counterTotal(text, 'runnel_records_out_total') };
    if (previous !== undefined && sample.at > previous.at) {
      const seconds = (sample.at - previous.at) / 1000;
      produced.add(Math.max(0, sample.in - previous.in) / seconds);
      fetched.add(Math.max(0, sample.out - previous.out) / seconds);
    }
    previous = sample;
  });
  return section;
}

function nodesTable(cluster: ClusterView): HTMLElement {
  return h('table', {},
    h('caption', {}, 'Nodes'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Node'), h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'URL'), h('th', { scope: 'col' }, 'Rack'), h('th', { scope: 'col' }, 'Role'))),
    h('tbody', {}, cluster.nodes.map((node) => h('tr', {},
      h('th', { scope: 'row' }, String(node.nodeId)),
      h('td', {}, h('span', { class: `badge ${node.state}` }, node.state)),
      h('td', {}, node.url),
      h('td', {}, node.rack ?? '–'),
      h('td', {}, node.nodeId === cluster.controller ? 'controller' : '')))));
}

function troubleTable(troubles: Trouble[]): HTMLElement {
  if (troubles.length === 0) return message('ok', 'Every partition has a leader and all its replicas in sync.');
  return h('table', { class: 'attention' },
    h('caption', {}, 'Partitions needing attention'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Topic'), h('th', { scope: 'col' }, 'Partition'), h('th', { scope: 'col' }, 'Problem'), h('th', { scope: 'col' }, 'Leader'), h('th', { scope: 'col' }, 'Replicas'), h('th', { scope: 'col' }, 'In sync'))),
    h('tbody', {}, troubles.map((trouble) => h('tr', { class: trouble.kind },
      h('td', {}, h('a', { href: `#/topics/${encodeURIComponent(trouble.topic)}` }, trouble.topic)),
      h('td', {}, String(trouble.partition)),
      h('td', {}, h('span', { class: `badge ${trouble.kind === 'offline' ? 'fenced' : 'warn'}` }, trouble.kind)),
      h('td', {}, trouble.leader < 0 ? 'none' : String(trouble.leader)),
      h('td', {}, trouble.replicas.join(', ')),
      h('td', {}, trouble.isr.join(', '))))));
}

export async function renderOverview({ main, signal }: PageContext): Promise<void> {
  const [cluster, topics, groups] = await Promise.all([
    call<ClusterView>('GET', '/v1/cluster'),
    call<{ topics: TopicSummary[] }>('GET', '/v1/topics'),
    call<{ groups: unknown[] }>('GET', '/v1/groups'),
  ]);
  const checked = topics.topics.slice(0, TOPICS_CHECKED_MAX);
  const described = await Promise.all(checked.map((topic) => call<TopicView>('GET', topicPath(topic.name)).catch(() => undefined)));
  if (signal.aborted) return;
  const troubles = described.flatMap((topic) => (topic === undefined ? [] : troublesOf(topic)));
  const online = cluster.nodes.filter((node) => node.state === 'online').length;
  const fenced = cluster.nodes.filter((node) => node.state === 'fenced').length;
  const offline = troubles.filter((trouble) => trouble.kind === 'offline').length;
  const under = troubles.length - offline;
  replace(main,
    h('h1', {}, 'Overview'),
    h('p', { class: 'subtle' }, 'Cluster ', h('code', {}, cluster.clusterId ?? '(not yet written)')),
    h('dl', { class: 'stats' },
      stat('Nodes online', `${online} of ${cluster.nodes.length}`, online < cluster.nodes.length ? 'warn' : 'plain'),
      stat('Nodes fenced', fenced, fenced > 0 ? 'bad' : 'plain'),
      stat('Controller', cluster.controller ?? 'electing', cluster.controller === null ? 'warn' : 'plain'),
      stat('Metadata applied', cluster.metadata === undefined ? '–' : `${cluster.metadata.appliedOffset} / ${cluster.metadata.highWatermark}`),
      stat('Topics', topics.topics.length, 'plain', '#/topics'),
      stat('Groups', groups.groups.length, 'plain', '#/groups'),
      stat('Under-replicated partitions', under, under > 0 ? 'warn' : 'plain'),
      stat('Offline partitions', offline, offline > 0 ? 'bad' : 'plain')),
    rateCharts(signal),
    nodesTable(cluster),
    troubleTable(troubles),
    checked.length < topics.topics.length ? message('note', `Partitions checked in the first ${checked.length} of ${topics.topics.length} topics.`) : null);
}

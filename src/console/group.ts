/**
 * A consumer group: its state, assignor and total lag; its members with the partitions
 * each owns (and those moving to or from it); per partition the committed offset, high
 * watermark and lag (GET /v1/groups/{group}); a refresh; resetting offsets and deleting
 * the group, which the node allows only while it has no live members; and the group's
 * total lag over time, sampled every few seconds while the page is open.
 */
import { call, groupPath, type GroupDescription, type GroupMember, type TopicPartitions, type TopicSummary } from './api.js';
import { chart, sampleEvery } from './charts.js';
import { h, formatTime, replace, type PageContext } from './dom.js';
import { confirmDeleteGroup, resetForm } from './group-actions.js';
import { stateBadge } from './groups.js';

function partitionsText(assignment: TopicPartitions[] | undefined): string {
  if (assignment === undefined || assignment.length === 0) return '—';
  return assignment.map((entry) => `${entry.topic}: ${entry.partitions.join(', ')}`).join('; ');
}

function subscriptionText(member: GroupMember): string {
  const subscription = member.subscription ?? {};
  return [
    ...(subscription.topics ?? []),
    subscription.topicPrefix === undefined ? null : `prefix ${subscription.topicPrefix}`,
    subscription.topicPattern === undefined ? null : `pattern ${subscription.topicPattern}`,
  ].filter((part) => part !== null).join(', ') || '—';
}

function membersTable(group: GroupDescription): HTMLElement {
  if (group.members.length === 0) return h('p', { class: 'subtle' }, 'No live members: offsets may be reset and the group deleted.');
  const columns = ['Member', 'Client', 'Generation', 'Subscription', 'Assigned partitions', 'Moving', 'Last seen'];
  return h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': 'Members (scrolls sideways)' }, h('table', {},
    h('caption', {}, 'Members'),
    h('thead', {}, h('tr', {}, columns.map((column) => h('th', { scope: 'col' }, column)))),
    h('tbody', {}, group.members.map((member) => h('tr', {},
      h('th', { scope: 'row' }, h('code', {}, member.memberId)),
      h('td', {}, member.clientId ?? '—'),
      h('td', { class: 'number' }, String(member.generation ?? '—')),
      h('td', {}, subscriptionText(member)),
      h('td', {}, partitionsText(member.assignment)),
      h('td', {}, (member.revoking?.length ?? 0) === 0 ? '—' : `giving up ${partitionsText(member.revoking)}`),
      h('td', {}, member.lastSeenMsAgo === undefined ? '—' : `${Math.round(member.lastSeenMsAgo / 1000)} s ago`))))));
}

function offsetsTable(group: GroupDescription): HTMLElement {
  if (group.offsets.length === 0) return h('p', { class: 'subtle' }, 'No committed offsets yet.');
  const offsets = [...group.offsets].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  const columns = ['Topic', 'Partition', 'Committed offset', 'High watermark', 'Lag', 'Committed at'];
  return h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': 'Offsets and lag (scrolls sideways)' }, h('table', { id: 'group-offsets' },
    h('caption', {}, 'Offsets and lag'),
    h('thead', {}, h('tr', {}, columns.map((column, index) => h('th', { scope: 'col', class: index === 0 || index === 5 ? '' : 'number' }, column)))),
    h('tbody', {}, offsets.map((o) => h('tr', { class: o.lag !== null && o.lag > 0 ? 'lagging' : '' },
      h('th', { scope: 'row' }, h('a', { href: `#/topics/${encodeURIComponent(o.topic)}` }, o.topic)),
      h('td', { class: 'number' }, String(o.partition)),
      h('td', { class: 'number' }, o.offset === null ? 'none' : String(o.offset)),
      h('td', { class: 'number' }, String(o.logEndOffset)),
      h('td', { class: 'number' }, o.lag === null ? '—' : String(o.lag)),
      h('td', {}, o.committedAtMs === null || o.committedAtMs === undefined ? '—' : formatTime(o.committedAtMs)))))));
}

function summary(group: GroupDescription): HTMLElement {
  return h('dl', { class: 'stats' },
    h('div', { class: 'stat' }, h('dt', {}, 'State'), h('dd', {}, stateBadge(group.state))),
    h('div', { class: 'stat' }, h('dt', {}, 'Members'), h('dd', {}, String(group.members.length))),
    h('div', { class: `stat ${group.lag > 0 ? 'warn' : ''}` }, h('dt', {}, 'Total lag'), h('dd', { id: 'group-lag' }, String(group.lag))),
    h('div', { class: 'stat' }, h('dt', {}, 'Assignor'), h('dd', {}, group.assignor)),
    h('div', { class: 'stat' }, h('dt', {}, 'Group epoch'), h('dd', {}, String(group.groupEpoch))));
}

/** Topics a reset may name: those the group has offsets for or subscribes to by name, else every topic. */
async function resettableTopics(group: GroupDescription): Promise<string[]> {
  const named = new Set([...group.offsets.map((o) => o.topic), ...group.members.flatMap((m) => m.subscription?.topics ?? [])]);
  if (named.size > 0) return [...named].sort();
  const { topics } = await call<{ topics: TopicSummary[] }>('GET', '/v1/topics');
  return topics.map((topic) => topic.name).sort();
}

export async function renderGroup({ main, signal }: PageContext, id: string): Promise<void> {
  const group = await call<GroupDescription>('GET', groupPath(id));
  const topics = await resettableTopics(group);
  if (signal.aborted) return;
  const live = h('div', {});
  const status = h('p', { class: 'subtle', role: 'status' });
  const draw = (fresh: GroupDescription): void => replace(live, summary(fresh), membersTable(fresh), offsetsTable(fresh));
  const refresh = async (): Promise<void> => {
    try {
      draw(await call<GroupDescription>('GET', groupPath(id)));
      status.textContent = `Refreshed at ${formatTime(Date.now())}.`;
    } catch (error) {
      status.textContent = `Refresh failed: ${(error as Error).message}`;
    }
  };
  draw(group);
  const lag = chart('chart-lag', 'Total lag', 'records');
  sampleEvery(signal, async () => lag.add((await call<GroupDescription>('GET', groupPath(id))).lag));
  replace(main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/groups' }, 'Groups'), ' / '),
    h('h1', {}, id),
    h('div', { class: 'toolbar' },
      h('button', { type: 'button', class: 'secondary', onclick: () => void refresh() }, 'Refresh'),
      h('button', { type: 'button', class: 'danger', onclick: () => confirmDeleteGroup(id, () => { location.hash = '#/groups'; }) }, 'Delete group')),
    status,
    h('section', { class: 'card charts', 'aria-label': 'Lag over time' }, lag.element),
    live,
    resetForm(id, topics, () => void refresh()));
}

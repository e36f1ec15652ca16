/**
 * Groups: every consumer group the node knows (GET /v1/groups) with its state, member
 * count and total lag, searchable by id (the search stays through a refresh); each
 * links to the group's own page.
 */
import { call, errorText, type GroupState, type GroupSummary } from './api.js';
import { h, field, replace, type PageContext } from './dom.js';

export const groupHref = (group: string): string => `#/groups/${encodeURIComponent(group)}`;

/** A group's state as a badge: Stable is fine, Reconciling means partitions are moving, Empty has no members. */
export function stateBadge(state: GroupState): HTMLElement {
  const tone = state === 'Stable' ? 'online' : state === 'Reconciling' ? 'warn' : 'empty';
  return h('span', { class: `badge ${tone}` }, state);
}

function groupRows(groups: GroupSummary[], filter: string): HTMLElement[] {
  const wanted = filter.trim().toLowerCase();
  return groups.filter((group) => group.groupId.toLowerCase().includes(wanted)).map((group) => h('tr', {},
    h('th', { scope: 'row' }, h('a', { href: groupHref(group.groupId) }, group.groupId)),
    h('td', {}, stateBadge(group.state)),
    h('td', { class: 'number' }, String(group.members)),
    h('td', { class: 'number' }, String(group.lag))));
}

export async function renderGroups({ main, signal }: PageContext): Promise<void> {
  let { groups } = await call<{ groups: GroupSummary[] }>('GET', '/v1/groups');
  if (signal.aborted) return;
  const search = h('input', { id: 'group-search', type: 'search', autocomplete: 'off', placeholder: 'part of an id' });
  const body = h('tbody', {});
  const count = h('p', { class: 'subtle', role: 'status' });
  const columns = [h('th', { scope: 'col' }, 'Group'), h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col', class: 'number' }, 'Members'), h('th', { scope: 'col', class: 'number' }, 'Total lag')];
  const table = h('table', {},
    h('caption', { class: 'visually-hidden' }, 'Consumer groups'),
    h('thead', {}, h('tr', {}, columns)),
    body);
  const none = h('p', {}, 'No consumer groups yet: a group appears once a consumer joins it or commits an offset.');
  const draw = (): void => {
    groups.sort((a, b) => a.groupId.localeCompare(b.groupId));
    const rows = groupRows(groups, search.value);
    replace(body, rows);
    count.textContent = `${rows.length} of ${groups.length} groups`;
    table.hidden = groups.length === 0;
    none.hidden = groups.length > 0;
  };
  // Refresh reads the list again and keeps what is typed in the search box.
  const refresh = async (): Promise<void> => {
    try {
      groups = (await call<{ groups: GroupSummary[] }>('GET', '/v1/groups')).groups;
      draw();
    } catch (error) {
      count.textContent = `Refresh failed: ${errorText(error)}`;
    }
  };
  search.addEventListener('input', draw);
  draw();
  replace(main,
    h('h1', {}, 'Groups'),
    h('div', { class: 'toolbar' },
      field('Search groups', search),
      h('button', { type: 'button', class: 'secondary', onclick: () => void refresh() }, 'Refresh')),
    count,
    none,
    table);
}

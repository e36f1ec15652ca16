/**
 * Topics: the list (searchable by name), a create form (name, partitions, replication
 * factor, configs by Kafka name) that shows the API's own validation messages, and
 * delete behind a confirmation dialog that asks for the topic's name.
 */
import { call, topicPath, type TopicSummary } from './api.js';
import { confirmDelete } from './confirm-delete.js';
import { h, field, message, replace, type PageContext } from './dom.js';
import { actionForm } from './action-form.js';

/** `name=value` lines into a configs object; a line without `=` is an error the user sees. */
export function parseConfigs(text: string): Record<string, string> {
  const configs: Record<string, string> = {};
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const equals = line.indexOf('=');
    if (equals <= 0) throw new Error(`configs line ${index + 1}: expected name=value, got "${line}"`);
    configs[line.slice(0, equals).trim()] = line.slice(equals + 1).trim();
  }
  return configs;
}

function createForm(onCreated: (name: string) => void): HTMLElement {
  const name = h('input', { id: 'topic-name', name: 'name', required: true, autocomplete: 'off', spellcheck: 'false' });
  // No min: the API's own validation answers (INVALID_PARTITIONS, ...) are shown as they are.
  const partitions = h('input', { id: 'topic-partitions', name: 'partitions', type: 'number', value: '1', required: true });
  const replication = h('input', { id: 'topic-rf', name: 'replicationFactor', type: 'number', value: '1', required: true });
  const configs = h('textarea', { id: 'topic-configs', name: 'configs', rows: '3', spellcheck: 'false', placeholder: 'retention.ms=86400000' });
  const outcome = h('div', { class: 'outcome' });
  const submit = h('button', { type: 'submit' }, 'Create topic');
  const form = actionForm({
    headingId: 'create-heading',
    submit,
    outcome,
    action: async () => {
      const body = { name: name.value.trim(), partitions: Number(partitions.value), replicationFactor: Number(replication.value), configs: parseConfigs(configs.value) };
      await call('POST', '/v1/topics', body);
      replace(outcome, message('ok', `Topic ${body.name} created.`));
      onCreated(body.name);
    },
  },
  h('h2', { id: 'create-heading' }, 'Create a topic'),
  h('div', { class: 'row' },
    field('Name', name),
    field('Partitions', partitions),
    field('Replication factor', replication)),
  field('Configs', configs, 'One Kafka config per line, name=value (retention.ms, cleanup.policy, min.insync.replicas, ...). Optional.'),
  submit,
  outcome);
  return form;
}

/** The topic is deleted only once its name is typed. */
function confirmDeleteTopic(topic: string, onDeleted: () => void): void {
  confirmDelete({ kind: 'topic', name: topic, path: topicPath(topic), consequence: 'Its partitions and every record in them are removed. This cannot be undone.', onDeleted });
}

function topicRows(topics: TopicSummary[], filter: string, refresh: () => void): HTMLElement[] {
  const wanted = filter.trim().toLowerCase();
  return topics.filter((topic) => topic.name.toLowerCase().includes(wanted)).map((topic) => h('tr', {},
    h('th', { scope: 'row' }, h('a', { href: `#/topics/${encodeURIComponent(topic.name)}` }, topic.name)),
    h('td', { class: 'number' }, String(topic.partitions)),
    h('td', { class: 'number' }, String(topic.replicationFactor)),
    h('td', {}, h('button', { type: 'button', class: 'danger small', 'aria-label': `Delete topic ${topic.name}`, onclick: () => confirmDeleteTopic(topic.name, refresh) }, 'Delete'))));
}

export async function renderTopics({ main, signal }: PageContext): Promise<void> {
  const { topics } = await call<{ topics: TopicSummary[] }>('GET', '/v1/topics');
  if (signal.aborted) return;
  const search = h('input', { id: 'topic-search', type: 'search', autocomplete: 'off', placeholder: 'part of a name' });
  const body = h('tbody', {});
  const count = h('p', { class: 'subtle', role: 'status' });
  const refresh = (): void => void renderTopics({ main, signal });
  const draw = (): void => {
    const rows = topicRows(topics, search.value, refresh);
    replace(body, rows);
    count.textContent = `${rows.length} of ${topics.length} topics`;
  };
  search.addEventListener('input', draw);
  const table = h('table', {},
    h('caption', { class: 'visually-hidden' }, 'Topics'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col', class: 'number' }, 'Partitions'), h('th', { scope: 'col', class: 'number' }, 'Replication factor'), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
    body);
  draw();
  replace(main,
    h('h1', {}, 'Topics'),
    h('div', { class: 'toolbar' }, field('Search topics', search)),
    count,
    table,
    createForm((name) => { location.hash = `#/topics/${encodeURIComponent(name)}`; }));
}

/**
 * Altering a topic (PATCH /v1/topics/{topic}): its configs by Kafka name, one per line
 * as in the create form, starting from the topic's own; a line removed goes back to the
 * default (the API's null), and the partition count may grow. The API's validation
 * messages (INVALID_CONFIG, INVALID_PARTITIONS, ...) are shown as they come.
 */
import { call, topicPath, type TopicView } from './api.js';
import { h, field, message, replace } from './dom.js';
import { parseConfigs } from './topics.js';
import { actionForm } from './action-form.js';

/** The PATCH body turning `before` into what the form says; undefined when nothing changes. */
export function alterBody(before: TopicView, configsText: string, partitionsText: string): { partitions?: number; configs?: Record<string, string | null> } | undefined {
  const wanted = parseConfigs(configsText);
  const configs: Record<string, string | null> = {};
  for (const [name, value] of Object.entries(wanted)) if (before.configs[name] !== value) configs[name] = value;
  for (const name of Object.keys(before.configs)) if (!(name in wanted)) configs[name] = null;
  const partitions = Number(partitionsText);
  if (!Number.isInteger(partitions)) throw new Error(`the partition count is a whole number, got "${partitionsText}"`);
  const body: { partitions?: number; configs?: Record<string, string | null> } = {};
  if (partitions !== before.partitions.length) body.partitions = partitions;
  if (Object.keys(configs).length > 0) body.configs = configs;
  return Object.keys(body).length === 0 ? undefined : body;
}

const configsText = (topic: TopicView): string => Object.entries(topic.configs).map(([name, value]) => `${name}=${value}`).join('\n');

export function alterForm(initial: TopicView, onAltered: (fresh: TopicView) => void): HTMLElement {
  let topic = initial;
  const configs = h('textarea', { id: 'alter-configs', rows: '4', spellcheck: 'false', placeholder: 'retention.ms=86400000' });
  configs.value = configsText(topic);
  const partitions = h('input', { id: 'alter-partitions', type: 'number', value: String(topic.partitions.length), required: true });
  const outcome = h('div', { class: 'outcome' });
  const submit = h('button', { type: 'submit' }, 'Save changes');
  return actionForm({
    headingId: 'alter-heading',
    submit,
    outcome,
    action: async () => {
      const body = alterBody(topic, configs.value, partitions.value);
      if (body === undefined) {
        replace(outcome, message('note', 'Nothing to change.'));
        return;
      }
      topic = await call<TopicView>('PATCH', topicPath(topic.name), body);
      configs.value = configsText(topic);
      partitions.value = String(topic.partitions.length);
      replace(outcome, message('ok', `Topic ${topic.name} altered.`));
      onAltered(topic);
    },
  },
  h('h2', { id: 'alter-heading' }, 'Alter the topic'),
  field('Topic configs', configs, 'One Kafka config per line, name=value; remove a line to go back to the default.'),
  field('Partition count', partitions, 'May only grow: keys may then map to other partitions.'),
  submit,
  outcome);
}

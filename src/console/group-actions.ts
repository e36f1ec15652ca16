/**
 * What an operator does to a group that has no live members: reset a topic's committed
 * offsets (to earliest, latest, the first offset at or after a time, or an offset) and
 * delete the group behind a confirmation. The node decides: while members are live it
 * answers 409 GROUP_NOT_EMPTY, and the console shows that answer as it comes.
 */
import { call, groupPath, type GroupOffset, type ResetTarget } from './api.js';
import { confirmDelete } from './confirm-delete.js';
import { h, field, message, replace } from './dom.js';
import { actionForm } from './action-form.js';

/** `0, 2` into [0, 2]; blank means every partition (undefined). */
export function parsePartitions(text: string): number[] | undefined {
  const parts = text.split(',').map((part) => part.trim()).filter((part) => part !== '');
  if (parts.length === 0) return undefined;
  return parts.map((part) => {
    if (!/^\d+$/.test(part)) throw new Error(`partitions: expected numbers separated by commas, got "${part}"`);
    return Number(part);
  });
}

function targetOf(kind: string, time: string, offset: string): ResetTarget {
  if (kind === 'earliest' || kind === 'latest') return kind;
  if (kind === 'timestamp') {
    const timestamp = new Date(time).getTime();
    if (time === '' || Number.isNaN(timestamp)) throw new Error('Pick a time to reset to.');
    return { timestamp };
  }
  if (!/^\d+$/.test(offset.trim())) throw new Error('Give the offset to reset to (0 or more).');
  return { offset: Number(offset.trim()) };
}

export function resetForm(group: string, topics: string[], onReset: () => void): HTMLElement {
  const topic = h('select', { id: 'reset-topic', name: 'topic', required: true }, topics.map((name) => h('option', { value: name }, name)));
  const kind = h('select', { id: 'reset-to', name: 'to' },
    h('option', { value: 'earliest' }, 'Earliest'), h('option', { value: 'latest' }, 'Latest'),
    h('option', { value: 'timestamp' }, 'A time'), h('option', { value: 'offset' }, 'An offset'));
  const time = h('input', { id: 'reset-time', name: 'time', type: 'datetime-local', step: '1' });
  const offset = h('input', { id: 'reset-offset', name: 'offset', type: 'number', min: '0', value: '0' });
  const partitions = h('input', { id: 'reset-partitions', name: 'partitions', autocomplete: 'off', spellcheck: 'false', placeholder: 'all' });
  const timeField = field('Time (your local time)', time, 'The first offset at or after this time.');
  const offsetField = field('Offset', offset, 'Clamped to what the log holds.');
  const showTarget = (): void => {
    timeField.hidden = kind.value !== 'timestamp';
    offsetField.hidden = kind.value !== 'offset';
  };
  kind.addEventListener('change', showTarget);
  showTarget();
  const outcome = h('div', { class: 'outcome' });
  const submit = h('button', { type: 'submit' }, 'Reset offsets');
  return actionForm({
    headingId: 'reset-heading',
    submit,
    outcome,
    action: async () => {
      const body = { topic: topic.value, to: targetOf(kind.value, time.value, offset.value), partitions: parsePartitions(partitions.value) };
      const answer = await call<{ offsets: GroupOffset[] }>('POST', `${groupPath(group)}/offsets/reset`, body);
      const moved = answer.offsets.map((o) => `${o.partition} → ${o.offset ?? 'none'}`).join(', ');
      replace(outcome, message('ok', `Offsets of ${body.topic} reset (partition → offset: ${moved}).`));
      onReset();
    },
  },
  h('h2', { id: 'reset-heading' }, 'Reset offsets'),
  h('p', { class: 'subtle' }, 'Only while the group has no live members: the node refuses otherwise.'),
  topics.length === 0 ? message('note', 'There is no topic to reset.') : null,
  h('div', { class: 'row' },
    field('Topic', topic),
    field('Reset to', kind),
    field('Partitions', partitions, 'Numbers separated by commas; blank for all.')),
  h('div', { class: 'row' }, timeField, offsetField),
  submit,
  outcome);
}

/** The group is deleted only once its id is typed. */
export function confirmDeleteGroup(group: string, onDeleted: () => void): void {
  confirmDelete({
    kind: 'group',
    name: group,
    path: groupPath(group),
    consequence: 'Its committed offsets are removed; its consumers would start again from their autoOffsetReset. Only while it has no live members.',
    onDeleted,
  });
}

/**
 * The produce form: key, value (JSON, string or base64 binary), headers, and a
 * partition (or by key, as Kafka's partitioner). JSON that does not parse is caught
 * here; anything else the node refuses is shown with its code and message.
 */
import { call, topicPath, type TopicView } from './api.js';
import { h, field, message, replace } from './dom.js';
import { partitionSelect } from './records.js';
import { actionForm } from './action-form.js';

/** `name: value` lines into headers; a line without `:` is an error the user sees. */
export function parseHeaders(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`headers line ${index + 1}: expected name: value, got "${line}"`);
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}

function recordOf(form: { partition: string; key: string; value: string; format: string; headers: string }): Record<string, unknown> {
  let value: unknown = form.value;
  if (form.format === 'json') {
    try {
      value = JSON.parse(form.value);
    } catch (error) {
      throw new Error(`the value is not JSON (${(error as Error).message}); choose the string format for plain text`);
    }
  }
  return {
    value,
    ...(form.key === '' ? {} : { key: form.key }),
    ...(form.partition === '' ? {} : { partition: Number(form.partition) }),
    headers: parseHeaders(form.headers),
  };
}

export function produceForm(topic: TopicView, onProduced: (partition: number) => void): HTMLElement {
  const partition = partitionSelect('produce-partition', topic, { value: '', label: 'by key (or any)' });
  const key = h('input', { id: 'produce-key', autocomplete: 'off', spellcheck: 'false' });
  const value = h('textarea', { id: 'produce-value', rows: '4', spellcheck: 'false', required: true, placeholder: '{"item":"book","qty":1}' });
  const format = h('select', { id: 'produce-format' },
    h('option', { value: 'json' }, 'JSON'), h('option', { value: 'string' }, 'string'), h('option', { value: 'binary' }, 'binary (base64)'));
  const headers = h('textarea', { id: 'produce-headers', rows: '2', spellcheck: 'false', placeholder: 'source: console' });
  const outcome = h('div', { class: 'outcome' });
  const submit = h('button', { type: 'submit' }, 'Produce');
  return actionForm({
    headingId: 'produce-heading',
    submit,
    outcome,
    action: async () => {
      const record = recordOf({ partition: partition.value, key: key.value, value: value.value, format: format.value, headers: headers.value });
      const answer = await call<{ offsets: Array<{ partition: number; offset: number }> }>('POST', `${topicPath(topic.name)}/records`, { records: [record], valueFormat: format.value });
      const [written] = answer.offsets;
      replace(outcome, message('ok', `Produced to partition ${written.partition} at offset ${written.offset}.`));
      onProduced(written.partition);
    },
  },
  h('h2', { id: 'produce-heading' }, 'Produce a record'),
  h('div', { class: 'row' }, field('Partition', partition), field('Key', key, 'Optional; records with the same key share a partition.'), field('Value format', format)),
  field('Value', value),
  field('Headers', headers, 'One per line, name: value. Optional.'),
  submit,
  outcome);
}

/**
 * How a record looks (shared by the record browser and the live tail): offset,
 * timestamp, key, headers, and the value: JSON pretty-printed (long ones collapsible),
 * strings as they are, binary as the API gives it (base64). And the record browser:
 * pick a partition and an offset or a time (UTC, looked up with the API's
 * offsets?timestamp=, Kafka's ListOffsets), page forwards and backwards.
 */
import { call, topicPath, type FetchAnswer, type FetchedRecord, type TopicView } from './api.js';
import { h, field, formatTime, message, replace } from './dom.js';

export const PAGE_SIZE = 20;
/** Values longer than this many lines start collapsed. */
const COLLAPSE_LINES = 12;

function valueText(value: unknown, format: string | undefined): string {
  if (format === 'binary' || format === 'string' || typeof value === 'string') return String(value);
  return JSON.stringify(value, null, 2);
}

export function recordItem(record: FetchedRecord): HTMLElement {
  const text = valueText(record.value, record.valueFormat);
  const value = h('pre', { class: 'value', tabindex: '0', 'aria-label': `value of offset ${record.offset}` }, text);
  const headers = Object.entries(record.headers ?? {});
  const format = record.valueFormat === undefined || record.valueFormat === 'json' ? null : h('span', { class: 'badge' }, record.valueFormat);
  return h('li', { class: 'record', 'data-offset': String(record.offset) },
    h('div', { class: 'record-meta' },
      h('span', {}, h('strong', {}, `#${record.offset}`), ` · partition ${record.partition}`),
      h('time', { datetime: new Date(record.timestamp).toISOString() }, formatTime(record.timestamp)),
      h('span', {}, 'key ', record.key === null || record.key === undefined ? h('em', {}, 'none') : h('code', {}, typeof record.key === 'string' ? record.key : JSON.stringify(record.key))),
      format),
    text.split('\n').length > COLLAPSE_LINES ? h('details', {}, h('summary', {}, `value (${text.split('\n').length} lines)`), value) : value,
    headers.length === 0 ? null : h('dl', { class: 'headers' }, headers.flatMap(([name, headerValue]) => [h('dt', {}, name), h('dd', {}, headerValue ?? '(null)')])));
}

export function partitionSelect(id: string, topic: TopicView, extra?: { value: string; label: string }): HTMLSelectElement {
  return h('select', { id },
    extra === undefined ? null : h('option', { value: extra.value }, extra.label),
    topic.partitions.map((p) => h('option', { value: String(p.partition) }, `partition ${p.partition}`)));
}

/** The record browser; `reload()` shows the newest page of the chosen (or given) partition again. */
export function recordBrowser(topic: TopicView): { element: HTMLElement; reload: (partitionNumber?: number) => Promise<void> } {
  const partition = partitionSelect('browse-partition', topic);
  const offset = h('input', { id: 'browse-offset', type: 'text', inputmode: 'numeric', autocomplete: 'off', placeholder: 'latest page', size: '12' });
  const time = h('input', { id: 'browse-time', type: 'datetime-local', step: '1' });
  const list = h('ol', { class: 'records', 'aria-label': 'Records' });
  const status = h('p', { class: 'subtle', role: 'status' });
  const older = h('button', { type: 'button', class: 'secondary' }, '← Older');
  const newer = h('button', { type: 'button', class: 'secondary' }, 'Newer →');
  let shown: FetchAnswer | undefined;
  let from = 0;

  const read = async (start: number | undefined): Promise<void> => {
    const path = `${topicPath(topic.name)}/partitions/${partition.value}`;
    try {
      if (start === undefined) {
        const offsets = await call<{ logStartOffset: number; highWatermark: number }>('GET', `${path}/offsets`);
        start = Math.max(offsets.logStartOffset, offsets.highWatermark - PAGE_SIZE);
      }
      from = start;
      shown = await call<FetchAnswer>('GET', `${path}/records?offset=${start}&maxRecords=${PAGE_SIZE}`);
      replace(list, shown.records.map(recordItem));
      const last = shown.records.at(-1)?.offset;
      status.textContent = shown.records.length === 0
        ? `No records from offset ${start} (the partition holds offsets ${shown.logStartOffset} to ${shown.highWatermark - 1}).`
        : `Offsets ${start} to ${last} of ${shown.logStartOffset} to ${shown.highWatermark - 1}.`;
      older.disabled = start <= shown.logStartOffset;
      newer.disabled = shown.nextOffset >= shown.highWatermark;
    } catch (error) {
      replace(list);
      status.textContent = '';
      list.appendChild(h('li', {}, message('error', (error as Error).message)));
    }
  };
  older.addEventListener('click', () => void read(Math.max(shown?.logStartOffset ?? 0, from - PAGE_SIZE)));
  newer.addEventListener('click', () => void read(shown?.nextOffset ?? from));
  partition.addEventListener('change', () => void read(undefined));
  /** The first offset at or after the time in the form (read as UTC, as the console shows times). */
  const readFromTime = async (): Promise<void> => {
    const timestamp = Date.parse(`${time.value}Z`);
    try {
      if (Number.isNaN(timestamp)) throw new Error(`not a time: "${time.value}"`);
      const found = await call<{ offset: number | null; highWatermark: number }>('GET', `${topicPath(topic.name)}/partitions/${partition.value}/offsets?timestamp=${timestamp}`);
      offset.value = String(found.offset ?? found.highWatermark);
      await read(found.offset ?? found.highWatermark);
      if (found.offset === null) status.textContent = `No record at or after ${formatTime(timestamp)}: ${status.textContent}`;
    } catch (error) {
      status.textContent = `Time lookup failed: ${(error as Error).message}`;
    }
  };
  const form = h('form', {
    class: 'toolbar',
    onsubmit: (event: Event) => {
      event.preventDefault();
      const text = offset.value.trim();
      if (time.value !== '') {
        void readFromTime().finally(() => { time.value = ''; });
        return;
      }
      if (text !== '' && !/^\d+$/.test(text)) {
        status.textContent = 'The offset is a whole number (or empty for the latest page).';
        return;
      }
      void read(text === '' ? undefined : Number(text));
    },
  }, field('Partition', partition), field('From offset', offset), field('Or from time (UTC)', time), h('button', { type: 'submit' }, 'Read'));
  const element = h('section', { class: 'card', 'aria-labelledby': 'browse-heading' },
    h('h2', { id: 'browse-heading' }, 'Records'),
    form, status, list,
    h('div', { class: 'buttons' }, older, newer));
  const reload = (partitionNumber?: number): Promise<void> => {
    if (partitionNumber !== undefined) partition.value = String(partitionNumber);
    return read(undefined);
  };
  return { element, reload };
}

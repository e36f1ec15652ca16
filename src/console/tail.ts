/**
 * The live tail: follows a partition over the API's SSE stream (Accept:
 * text/event-stream), read with fetch() rather than EventSource so the API key can go
 * in a header. When the connection drops (a node restarts, a proxy times out), it
 * reconnects after a pause and resumes after the last offset it showed: no record is
 * shown twice and none is skipped.
 */
import { authHeaders, call, topicPath, type FetchedRecord, type TopicView } from './api.js';
import { h, field, replace } from './dom.js';
import { partitionSelect, recordItem } from './records.js';

/** Records kept on screen; older ones scroll away. */
const SHOWN_MAX = 200;
const RETRY_DELAYS_MS = [500, 1_000, 2_000, 5_000];

interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
}

/** Splits a text/event-stream into events (blank-line separated; comments ignored). */
export function parseEvents(buffer: string): { events: SseEvent[]; rest: string } {
  const blocks = buffer.split('\n\n');
  const rest = blocks.pop() ?? '';
  const events = blocks.map((block) => {
    const event: SseEvent = { id: undefined, event: 'message', data: '' };
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const name = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (name === 'id') event.id = value;
      else if (name === 'event') event.event = value;
      else if (name === 'data') event.data = event.data === '' ? value : `${event.data}\n${value}`;
    }
    return event;
  }).filter((event) => event.data !== '');
  return { events, rest };
}

const wait = (ms: number, signal: AbortSignal): Promise<void> => new Promise((resolve) => {
  const timer = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
});

interface Follow {
  path: string;
  signal: AbortSignal;
  onRecord: (record: FetchedRecord) => void;
  onStatus: (text: string) => void;
}

/** Reads one connection until it ends; returns the offset to resume from. */
async function readStream(follow: Follow, from: string): Promise<string> {
  const response = await fetch(`${follow.path}/records?offset=${from}`, { headers: { accept: 'text/event-stream', ...authHeaders() }, signal: follow.signal });
  if (!response.ok || response.body === null) throw new Error(`the stream answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
  follow.onStatus(`Following from offset ${from}: new records appear here.`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let next = from;
  while (true) {
    const { done, value } = await reader.read();
    if (done) return next;
    const parsed = parseEvents(buffer + value.replace(/\r\n/g, '\n'));
    buffer = parsed.rest;
    for (const event of parsed.events) {
      if (event.event === 'error') throw new Error(`the node ended the stream: ${event.data}`);
      if (event.event !== 'record') continue;
      const record = JSON.parse(event.data) as FetchedRecord;
      next = String(record.offset + 1);
      follow.onRecord(record);
    }
  }
}

/** Follows until the signal aborts, reconnecting after drops. */
async function followPartition(follow: Follow): Promise<void> {
  // A number, not 'latest': a reconnect before the first record must not skip what came meanwhile.
  let from = String((await call<{ highWatermark: number }>('GET', `${follow.path}/offsets`)).highWatermark);
  let failures = 0;
  while (!follow.signal.aborted) {
    const before = from;
    try {
      from = await readStream({ ...follow, onRecord: (record) => { from = String(record.offset + 1); failures = 0; follow.onRecord(record); } }, from);
    } catch (error) {
      if (follow.signal.aborted) return;
      follow.onStatus(`Connection lost (${(error as Error).message}).`);
    }
    if (follow.signal.aborted) return;
    if (from === before) failures += 1;
    const delay = RETRY_DELAYS_MS[Math.min(failures, RETRY_DELAYS_MS.length - 1)];
    follow.onStatus(`Connection lost; reconnecting in ${delay / 1000} s, resuming from offset ${from}.`);
    await wait(delay, follow.signal);
  }
}

export function liveTail(topic: TopicView, pageSignal: AbortSignal): HTMLElement {
  const partition = partitionSelect('tail-partition', topic);
  const list = h('ol', { class: 'records tail', 'aria-label': 'Live records', tabindex: '0' });
  const status = h('p', { class: 'subtle', role: 'status', id: 'tail-status' }, 'Stopped.');
  const toggle = h('button', { type: 'button', 'aria-pressed': 'false' }, 'Start live tail');
  let running: AbortController | undefined;
  const stop = (): void => {
    running?.abort();
    running = undefined;
    toggle.textContent = 'Start live tail';
    toggle.setAttribute('aria-pressed', 'false');
    status.textContent = 'Stopped.';
  };
  const start = (): void => {
    running = new AbortController();
    const signal = AbortSignal.any([running.signal, pageSignal]);
    toggle.textContent = 'Stop live tail';
    toggle.setAttribute('aria-pressed', 'true');
    replace(list);
    status.textContent = 'Connecting…';
    followPartition({
      path: `${topicPath(topic.name)}/partitions/${partition.value}`,
      signal,
      onRecord: (record) => {
        list.prepend(recordItem(record));
        while (list.children.length > SHOWN_MAX) list.lastElementChild?.remove();
      },
      onStatus: (text) => { if (!signal.aborted) status.textContent = text; },
    }).catch((error: Error) => { if (!signal.aborted) status.textContent = `Stopped: ${error.message}`; });
  };
  toggle.addEventListener('click', () => (running === undefined ? start() : stop()));
  partition.addEventListener('change', () => { if (running !== undefined) { stop(); start(); } });
  return h('section', { class: 'card', 'aria-labelledby': 'tail-heading' },
    h('h2', { id: 'tail-heading' }, 'Live tail'),
    h('div', { class: 'toolbar' }, field('Partition', partition), toggle),
    status,
    list);
}

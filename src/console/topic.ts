/**
 * A topic: its partitions (leader, replicas, in-sync replicas, log start and high
 * watermark, size), configs, the record browser, the live tail, the produce form and
 * the alter form (configs, partition count).
 */
import { call, errorText, topicPath, type TopicView } from './api.js';
import { h, formatBytes, message, replace, type PageContext } from './dom.js';
import { produceForm } from './produce.js';
import { recordBrowser } from './records.js';
import { liveTail } from './tail.js';
import { alterForm } from './topic-alter.js';

function partitionsTable(topic: TopicView): HTMLElement {
  const columns = ['Partition', 'Leader', 'Replicas', 'In sync', 'Log start', 'High watermark', 'Size'];
  return h('table', {},
    h('caption', {}, 'Partitions'),
    h('thead', {}, h('tr', {}, columns.map((column) => h('th', { scope: 'col' }, column)))),
    h('tbody', {}, topic.partitions.map((p) => {
      const problem = p.leader < 0 ? 'offline' : p.isr.length < p.replicas.length ? 'under-replicated' : undefined;
      return h('tr', { class: problem ?? '' },
        h('th', { scope: 'row' }, String(p.partition)),
        h('td', {}, p.leader < 0 ? h('span', { class: 'badge fenced' }, 'offline') : String(p.leader)),
        h('td', {}, p.replicas.join(', ')),
        h('td', {}, p.isr.join(', '), problem === 'under-replicated' ? h('span', { class: 'badge warn' }, 'under-replicated') : null),
        h('td', { class: 'number' }, String(p.logStartOffset)),
        h('td', { class: 'number' }, String(p.highWatermark)),
        h('td', { class: 'number' }, formatBytes(p.sizeBytes)));
    })));
}

function configList(topic: TopicView): HTMLElement {
  const entries = Object.entries(topic.configs);
  return h('p', { class: 'subtle' }, `Replication factor ${topic.replicationFactor}. `,
    entries.length === 0 ? 'Configs: broker defaults.' : ['Configs: ', ...entries.flatMap(([name, value], index) => [index === 0 ? '' : ', ', h('code', {}, `${name}=${value}`)])]);
}

export async function renderTopic(context: PageContext, name: string): Promise<void> {
  const { main, signal } = context;
  const topic = await call<TopicView>('GET', topicPath(name));
  if (signal.aborted) return;
  // Focusable, so a keyboard can scroll a table wider than a phone.
  const partitions = h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': 'Partitions (scrolls sideways)' }, partitionsTable(topic));
  const browser = recordBrowser(topic);
  const refresh = async (partition: number): Promise<void> => {
    const fresh = await call<TopicView>('GET', topicPath(name));
    replace(partitions, partitionsTable(fresh));
    await browser.reload(partition);
  };
  const configs = h('div', {}, configList(topic));
  const altered = (fresh: TopicView): void => {
    // New partitions appear in every partition picker: the page is drawn again.
    if (fresh.partitions.length !== topic.partitions.length) renderTopic(context, name).catch((error: unknown) => replace(configs, message('error', errorText(error))));
    else replace(configs, configList(fresh));
  };
  replace(main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/topics' }, 'Topics'), ' / '),
    h('h1', {}, name),
    configs,
    partitions,
    h('div', { class: 'columns' },
      produceForm(topic, (partition) => void refresh(partition)),
      liveTail(topic, signal)),
    browser.element,
    alterForm(topic, altered));
  await browser.reload();
}

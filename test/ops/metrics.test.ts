/**
 * GET /metrics (issue 5): Prometheus text from prom-client with request counts and
 * latency per route and status, per-partition offsets and sizes, waiting long-polls
 * and open streams, consumer group members and lag, process metrics, and names that
 * follow Prometheus conventions. Records and bytes in/out per topic and fsync
 * latency have their own test at the end.
 */
import t from 'tap';
import { Agent } from 'undici';
import { createTopic, fetchRecords, produce, requestJson, requestOk } from '../helpers/http.js';
import { eventually, findSamples, openSse, parsePrometheus, startInProcess, type ParsedMetrics } from './support.js';

async function scrape(url: string): Promise<{ contentType: string; text: string; metrics: ParsedMetrics }> {
  const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET /metrics: HTTP ${response.status}: ${text.slice(0, 300)}`);
  return { contentType: response.headers.get('content-type') ?? '', text, metrics: parsePrometheus(text) };
}

function valueOf(metrics: ParsedMetrics, name: string, labels: Record<string, string> = {}): number | undefined {
  const samples = findSamples(metrics, name, labels);
  if (samples.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${samples.length} samples`);
  return samples[0]?.value;
}

const RECORDS_ROUTE = '/v1/topics/:topic/partitions/:partition/records';

void t.test('/metrics reports requests, partitions, readers, streams, groups and the process in Prometheus text', async (t) => {
  const node = await startInProcess(t);
  const agent = new Agent({ connections: 16 });
  t.teardown(() => agent.close());
  const topic = 'metrics-orders';

  const empty = await scrape(node.url);
  t.match(empty.contentType, /^text\/plain; version=0\.0\.4/, 'content type is the Prometheus text format 0.0.4');
  t.equal(findSamples(empty.metrics, 'runnel_log_end_offset').length, 0, 'no partition series before a topic exists');

  await createTopic(node.url, topic, { partitions: 2, dispatcher: agent });
  await produce(node.url, topic, [1, 2, 3, 4, 5].map((value) => ({ value })), { partition: 0, dispatcher: agent });
  await produce(node.url, topic, [{ value: 'a' }, { value: 'b' }, { value: 'c' }], { partition: 1, dispatcher: agent });
  const fetched = await fetchRecords(node.url, topic, 0, { dispatcher: agent });
  t.equal(fetched.records.length, 5, 'fetched the 5 records of partition 0');
  const missing = await requestJson(`${node.url}/v1/topics/no-such-topic`, { dispatcher: agent });
  t.equal(missing.status, 404, 'an unknown topic is 404');

  const after = await scrape(node.url);
  const m = after.metrics;
  t.equal(valueOf(m, 'runnel_http_requests_total', { method: 'POST', route: '/v1/topics', status_code: '201' }), 1, 'one topic creation counted under its route and status');
  t.equal(valueOf(m, 'runnel_http_requests_total', { method: 'POST', route: '/v1/topics/:topic/partitions/:partition/records', status_code: '200' }), 2, 'two produce requests counted under the route pattern, not the URL');
  t.equal(valueOf(m, 'runnel_http_requests_total', { method: 'GET', route: RECORDS_ROUTE, status_code: '200' }), 1, 'one fetch counted');
  t.equal(valueOf(m, 'runnel_http_requests_total', { method: 'GET', route: '/v1/topics/:topic', status_code: '404' }), 1, 'the 404 counted with its status');
  t.equal(findSamples(m, 'runnel_http_requests_total').filter((sample) => sample.labels.route?.includes(topic)).length, 0, 'no route label holds a topic name (bounded cardinality)');

  const fetchBuckets = findSamples(m, 'runnel_http_request_duration_seconds_bucket', { method: 'GET', route: RECORDS_ROUTE, status_code: '200' });
  t.ok(fetchBuckets.length >= 2, 'latency histogram buckets for the fetch route');
  t.equal(fetchBuckets.find((sample) => sample.labels.le === '+Inf')?.value, 1, 'the +Inf bucket holds the one fetch');
  t.equal(valueOf(m, 'runnel_http_request_duration_seconds_count', { method: 'GET', route: RECORDS_ROUTE, status_code: '200' }), 1, 'histogram count = 1');
  t.ok((valueOf(m, 'runnel_http_request_duration_seconds_sum', { method: 'GET', route: RECORDS_ROUTE, status_code: '200' }) ?? -1) > 0, 'histogram sum > 0 seconds');

  t.equal(valueOf(m, 'runnel_log_end_offset', { topic, partition: '0' }), 5, 'log end offset of partition 0');
  t.equal(valueOf(m, 'runnel_log_end_offset', { topic, partition: '1' }), 3, 'log end offset of partition 1');
  t.equal(valueOf(m, 'runnel_log_start_offset', { topic, partition: '0' }), 0, 'log start offset');
  t.equal(valueOf(m, 'runnel_high_watermark', { topic, partition: '0' }), 5, 'high watermark of partition 0');
  t.equal(valueOf(m, 'runnel_high_watermark', { topic, partition: '1' }), 3, 'high watermark of partition 1');
  t.ok((valueOf(m, 'runnel_log_size_bytes', { topic, partition: '0' }) ?? 0) > 0, 'log size on disk > 0 bytes');
  t.equal(valueOf(m, 'runnel_partitions_led'), 2, 'a single node leads both partitions');
  t.equal(valueOf(m, 'runnel_under_replicated_partitions'), 0, 'and each is fully replicated (it is its own ISR)');
  t.ok((valueOf(m, 'runnel_process_cpu_seconds_total') ?? 0) > 0, 'process metrics: runnel_process_cpu_seconds_total');
  t.ok(findSamples(m, 'runnel_process_resident_memory_bytes').length === 1, 'process metrics: resident memory');
  t.ok(m.samples.some((sample) => sample.name.startsWith('runnel_nodejs_')), 'Node.js runtime metrics are there');

  // Waiting readers and open streams: a long-poll on partition 1, then an SSE stream on partition 0, both at the end.
  t.equal(valueOf(m, 'runnel_waiting_readers'), 0, 'no waiting readers yet');
  t.equal(valueOf(m, 'runnel_open_streams'), 0, 'no open streams yet');
  const longPollAbort = new AbortController();
  const longPoll = fetchRecords(node.url, topic, 1, { offset: 'latest', waitMs: 30_000, dispatcher: agent, timeoutMs: 40_000, signal: longPollAbort.signal }).catch(() => undefined);
  t.teardown(() => longPollAbort.abort());
  t.ok(await eventually(async () => valueOf((await scrape(node.url)).metrics, 'runnel_waiting_readers') === 1), 'an open long-poll is a waiting reader');
  const stream = await openSse(`${node.url}/v1/topics/${topic}/partitions/0/records?offset=latest`, { dispatcher: agent });
  t.teardown(() => stream.close());
  t.equal(stream.status, 200, 'the SSE stream is open');
  t.ok(await eventually(async () => valueOf((await scrape(node.url)).metrics, 'runnel_open_streams') === 1), 'an open SSE stream is counted in runnel_open_streams');
  t.ok(await eventually(async () => valueOf((await scrape(node.url)).metrics, 'runnel_waiting_readers') === 2), 'the stream, waiting at the end, is a waiting reader too');
  stream.close();
  longPollAbort.abort();
  await longPoll;
  t.ok(await eventually(async () => {
    const now = (await scrape(node.url)).metrics;
    return valueOf(now, 'runnel_open_streams') === 0 && valueOf(now, 'runnel_waiting_readers') === 0;
  }), 'closed streams and long-polls are no longer counted');

  // A group with a committed offset (committed while it has no members), then one live member.
  const group = 'metrics-group';
  await requestOk(`${node.url}/v1/groups/${group}/offsets`, { method: 'POST', body: { offsets: [{ topic, partition: 0, offset: 2 }] }, dispatcher: agent });
  await requestOk(`${node.url}/v1/groups/${group}/members`, { method: 'POST', body: { topics: [topic], clientId: 'metrics-test' }, dispatcher: agent });
  const withGroup = (await scrape(node.url)).metrics;
  t.equal(valueOf(withGroup, 'runnel_group_members', { group }), 1, 'one live member in the group');
  t.equal(valueOf(withGroup, 'runnel_group_lag', { group, topic, partition: '0' }), 3, 'lag = high watermark 5 - committed 2');

  // Naming conventions, over everything exposed.
  t.ok(withGroup.types.size > 20, `many metric families (${withGroup.types.size})`);
  for (const [name, type] of withGroup.types) {
    t.match(name, /^runnel_[a-z0-9_]+$/, `${name}: runnel_ prefix, snake case`);
    if (type === 'counter') t.match(name, /_total$/, `${name}: a counter ends in _total`);
    const isOwn = !name.startsWith('runnel_nodejs_') && !name.startsWith('runnel_process_');
    if (isOwn && type !== 'counter') t.notMatch(name, /_total$/, `${name}: only counters end in _total`);
    if (isOwn && type === 'histogram') t.match(name, /_(seconds|bytes)$/, `${name}: a histogram names its unit`);
  }
  const orphans = withGroup.samples.filter((sample) => !withGroup.types.has(sample.name) && !withGroup.types.has(sample.name.replace(/_(bucket|sum|count)$/, '')));
  t.same(orphans.map((sample) => sample.name), [], 'every sample belongs to a declared (# TYPE) family');
});

// Records and bytes in/out per topic and fsync latency: written while the routes and
// the partition logs were being wired to Metrics.produced/consumed and fsyncSeconds
// (in a separate change), so kept apart from the test above.
void t.test('/metrics counts records and bytes in and out per topic, and fsync latency', async (t) => {
  const node = await startInProcess(t);
  const topic = 'metrics-flow';
  const fsynced = 'metrics-fsynced';
  await createTopic(node.url, topic, { partitions: 1 });
  await createTopic(node.url, fsynced, { partitions: 1, configs: { 'flush.messages': 1 } });
  await produce(node.url, topic, [{ value: 'one' }, { value: 'two' }, { value: 'three' }], { partition: 0 });
  await produce(node.url, topic, [{ value: 'four' }], { partition: 0 });
  await produce(node.url, fsynced, [{ value: 'durable' }, { value: 'twice' }], { partition: 0 });
  const fetched = await fetchRecords(node.url, topic, 0, { offset: 1, maxRecords: 2 });
  t.equal(fetched.records.length, 2, 'fetched 2 records');

  const m = (await scrape(node.url)).metrics;
  t.equal(valueOf(m, 'runnel_records_in_total', { topic }), 4, 'records_in_total{topic} = records produced to it');
  t.equal(valueOf(m, 'runnel_records_in_total', { topic: fsynced }), 2, 'records_in_total of the other topic');
  const bytesIn = valueOf(m, 'runnel_bytes_in_total', { topic }) ?? 0;
  t.ok(bytesIn > 0, 'bytes_in_total{topic} > 0');
  t.equal(bytesIn, valueOf(m, 'runnel_log_size_bytes', { topic, partition: '0' }), 'bytes_in_total{topic} = the bytes its (only) partition holds on disk');
  t.equal(valueOf(m, 'runnel_records_out_total', { topic }), 2, 'records_out_total{topic} = records fetched');
  const bytesOut = valueOf(m, 'runnel_bytes_out_total', { topic }) ?? 0;
  t.ok(bytesOut > 0 && bytesOut <= bytesIn, `0 < bytes_out_total{topic} (${bytesOut}) <= the bytes stored (${bytesIn})`);
  t.equal(valueOf(m, 'runnel_records_out_total', { topic: fsynced }) ?? 0, 0, 'nothing fetched from the other topic');
  t.ok((valueOf(m, 'runnel_log_fsync_duration_seconds_count') ?? 0) > 0, 'fsync histogram count > 0 after producing with flush.messages=1');
});

/**
 * __consumer_offsets is the group coordinators' topic: users may read it but not
 * create, produce to, alter or delete it (400 INVALID_REQUEST, on a single node too,
 * so the name stays reserved for the cluster's own topic).
 */
import t from 'tap';
import { OFFSETS_TOPIC } from '../../src/broker/groups/offsets-records.js';
import { requestJson } from '../helpers/http.js';
import { startServer } from '../helpers/server.js';

interface ErrorBody {
  error: { code: string; message: string };
}

void t.test('users cannot create, produce to, alter or delete __consumer_offsets; reading it is allowed', async (t) => {
  const server = await startServer(t);
  const topicUrl = `${server.url}/v1/topics/${OFFSETS_TOPIC}`;
  const created = await requestJson<ErrorBody>(`${server.url}/v1/topics`, { method: 'POST', body: { name: OFFSETS_TOPIC, partitions: 1 } });
  t.equal(created.status, 400, 'create refused');
  t.equal(created.body.error.code, 'INVALID_REQUEST');
  t.match(created.body.error.message, /internal topic.*cannot be created/);

  // As the controller would make it in a cluster.
  server.broker.topics.create({ name: OFFSETS_TOPIC, partitions: 2 });
  for (const [what, url, method, body] of [
    ['produce', `${topicUrl}/records`, 'POST', { records: [{ key: 'k', value: 1 }] }],
    ['produce to a partition', `${topicUrl}/partitions/0/records`, 'POST', { records: [{ value: 1 }] }],
    ['alter', topicUrl, 'PATCH', { configs: { 'retention.ms': '1' } }],
    ['delete', topicUrl, 'DELETE', undefined],
  ] as const) {
    const answer = await requestJson<ErrorBody>(url, { method, body });
    t.equal(answer.status, 400, `${what} refused`);
    t.equal(answer.body.error.code, 'INVALID_REQUEST');
    t.match(answer.body.error.message, `'${OFFSETS_TOPIC}' is an internal topic`);
  }
  t.equal((await requestJson(topicUrl)).status, 200, 'describe works');
  t.equal((await requestJson(`${topicUrl}/partitions/0/records?offset=earliest`)).status, 200, 'fetch works');
  t.ok(server.broker.topics.find(OFFSETS_TOPIC, 1) !== undefined, 'the topic is still there, with its partitions');
});

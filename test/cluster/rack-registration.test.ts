/**
 * A node's rack in the metadata: the controller registers the rack a node heartbeats
 * with (and registers it again when it changes), the image and its snapshot keep it,
 * and records and snapshots written before racks existed still read (no rack).
 */
import t from 'tap';
import { MetadataImage } from '../../src/cluster/metadata/metadata-image.js';
import type { MetadataRecord } from '../../src/cluster/metadata/records.js';
import { ClusterModel } from './controller/cluster-model.js';

const heartbeat = (model: ClusterModel, nodeId: number, rack: string | undefined): MetadataRecord[] =>
  model.commit(model.logic.heartbeat(model.image, { nodeId, url: `http://h${nodeId}:8080`, incarnationId: `inc-${nodeId}`, ...(rack === undefined ? {} : { rack }) }, model.nowMs));

void t.test('the controller registers the rack a node heartbeats with, and registers again when it changes', async (t) => {
  const model = new ClusterModel([1, 2]);
  model.commit(model.logic.activate(model.image, model.nowMs));
  t.same(heartbeat(model, 1, 'zone-a'), [{ type: 'register-node', node: { nodeId: 1, url: 'http://h1:8080', incarnationId: 'inc-1', rack: 'zone-a' } }], 'registered with its rack');
  t.same(heartbeat(model, 1, 'zone-a'), [], 'the same rack writes nothing');
  t.same(heartbeat(model, 1, 'zone-b'), [{ type: 'register-node', node: { nodeId: 1, url: 'http://h1:8080', incarnationId: 'inc-1', rack: 'zone-b' } }], 'a new rack registers again');
  const dropped = heartbeat(model, 1, undefined);
  t.same(dropped, [{ type: 'register-node', node: { nodeId: 1, url: 'http://h1:8080', incarnationId: 'inc-1' } }], 'a rack removed registers again, without one');
  t.equal(model.image.nodes.get(1)?.registration.rack, undefined, 'the node has no rack now');
  t.same(heartbeat(model, 2, undefined), [{ type: 'register-node', node: { nodeId: 2, url: 'http://h2:8080', incarnationId: 'inc-2' } }], 'a node without a rack registers as before racks existed');
});

void t.test('a snapshot keeps each rack; one written before racks existed reads with none', async (t) => {
  const image = new MetadataImage();
  image.apply([
    { type: 'cluster-id', clusterId: 'c' },
    { type: 'register-node', node: { nodeId: 1, url: 'http://h1:8080', incarnationId: 'i1', rack: 'zone-a' } },
    { type: 'register-node', node: { nodeId: 2, url: 'http://h2:8080', incarnationId: 'i2' } },
  ]);
  const snapshot = image.toSnapshot();
  const restored = MetadataImage.fromSnapshot(snapshot);
  t.equal(restored.nodes.get(1)?.registration.rack, 'zone-a', 'the rack survives the snapshot');
  t.equal(restored.nodes.get(2)?.registration.rack, undefined, 'no rack stays none');
  t.equal(restored.toSnapshot(), snapshot, 'the same image gives the same snapshot text');
  t.notMatch(JSON.stringify(JSON.parse(snapshot).nodes[1]), /rack/, 'a node without a rack is written as before racks existed');

  const before = JSON.stringify({ version: 1, clusterId: 'c', nodes: [{ nodeId: 1, url: 'http://h1:8080', incarnationId: 'i1', isFenced: false }], topics: [] });
  const old = MetadataImage.fromSnapshot(before);
  t.equal(old.nodes.get(1)?.registration.url, 'http://h1:8080', 'an old snapshot reads');
  t.equal(old.nodes.get(1)?.registration.rack, undefined, 'with no rack');
});

void t.test('a registration with a malformed rack is a broken invariant', async (t) => {
  const image = new MetadataImage();
  t.throws(() => image.apply([{ type: 'register-node', node: { nodeId: 1, url: 'http://h1:8080', incarnationId: 'i1', rack: 'zone a' } }]), { name: 'InvariantError', message: /rack "zone a"/ });
  t.equal(image.nodes.size, 0, 'nothing applied');
});

/**
 * API keys in the metadata (as KRaft keeps SCRAM credentials): `api-key` and
 * `api-key-removed` records apply to the image, a snapshot keeps the keys (and one
 * written before keys existed still reads), a record that is not a well-formed key (a
 * secret in it above all) is a broken invariant, and the controller's request check
 * refuses what would make such a record.
 */
import t from 'tap';
import { apiKeyRecord, apiKeyRemovedRecord } from '../../../src/cluster/metadata/api-keys.js';
import { MetadataImage } from '../../../src/cluster/metadata/metadata-image.js';
import type { ApiKeySpec, MetadataRecord } from '../../../src/cluster/metadata/records.js';
import { RunnelError } from '../../../src/errors.js';

const key = (keyId: string, overrides: Partial<ApiKeySpec> = {}): ApiKeySpec => ({
  keyId,
  name: `svc-${keyId}`,
  secretSha256: 'ab'.repeat(32),
  grants: [{ resource: 'topic', prefix: 'billing.', operations: ['read', 'write'] }, { resource: 'cluster', operations: ['admin'] }],
  createdAtMs: 1_700_000_000_000,
  ...overrides,
});

/** The code of the RunnelError `run` throws, or 'no error'. */
function codeOf(run: () => unknown): string {
  try {
    run();
    return 'no error';
  } catch (error) {
    return error instanceof RunnelError ? error.code : `not a RunnelError: ${String(error)}`;
  }
}

const added = (spec: ApiKeySpec): MetadataRecord => ({ type: 'api-key', key: spec });

void t.test('api-key and api-key-removed records add and remove keys', async (t) => {
  const image = new MetadataImage();
  image.apply([added(key('k1')), added(key('k2'))]);
  t.same([...image.apiKeys.keys()], ['k1', 'k2']);
  t.same(image.apiKeys.get('k1'), key('k1'), 'the key as recorded');
  image.apply([{ type: 'api-key-removed', keyId: 'k1' }]);
  t.same([...image.apiKeys.keys()], ['k2']);
});

void t.test('a key record that cannot apply is a broken invariant and leaves the image as it was', async (t) => {
  const image = new MetadataImage();
  image.apply([added(key('k1'))]);
  const cases: Array<[string, MetadataRecord[], RegExp]> = [
    ['a secret in the record', [added({ ...key('k2'), secret: 'plain' } as ApiKeySpec)], /field 'secret'/],
    ['a hash that is not hex', [added(key('k2', { secretSha256: 'xyz' }))], /secretSha256/],
    ['an unknown operation', [added(key('k2', { grants: [{ resource: 'topic', operations: ['delete' as 'read'] }] }))], /operations must be among/],
    ['a key id taken', [added(key('k1'))], /already exists/],
    ['removing a key there is not', [{ type: 'api-key-removed', keyId: 'nope' }], /no key nope/],
    ['the second record of a batch fails', [added(key('k3')), { type: 'api-key-removed', keyId: 'nope' }], /no key nope/],
  ];
  for (const [what, records, message] of cases) {
    const before = image.toSnapshot();
    t.throws(() => image.apply(records), { name: 'InvariantError', message }, what);
    t.equal(image.toSnapshot(), before, `${what}: the image is unchanged`);
  }
});

void t.test('a snapshot keeps the keys, by id, and rebuilds the same image', async (t) => {
  const image = new MetadataImage();
  image.apply([{ type: 'cluster-id', clusterId: 'c1' }, added(key('zz')), added(key('aa', { grants: [] })), added(key('mm'))]);
  image.apply([{ type: 'api-key-removed', keyId: 'mm' }]);
  const text = image.toSnapshot();
  const body = JSON.parse(text);
  t.same(body.apiKeys.map((each: ApiKeySpec) => each.keyId), ['aa', 'zz'], 'keys by id');
  t.notOk(text.includes('secret"'), 'no secret field, only its hash');
  const copy = MetadataImage.fromSnapshot(text);
  t.equal(copy.toSnapshot(), text, 'round trip');
  t.same(copy.apiKeys.get('zz'), key('zz'));
  t.same(copy.apiKeys.get('aa'), key('aa', { grants: [] }));
  t.equal(copy.apiKeys.has('mm'), false, 'a removed key stays removed');
});

void t.test('a snapshot written before the cluster kept keys still reads, with none', async (t) => {
  const old = '{"version":1,"clusterId":"c1","nextProducerId":0,"nodes":[],"topics":[]}';
  const image = MetadataImage.fromSnapshot(old);
  t.equal(image.clusterId, 'c1');
  t.equal(image.apiKeys.size, 0);
  t.throws(() => MetadataImage.fromSnapshot('{"version":1,"clusterId":null,"nodes":[],"topics":[],"apiKeys":{}}'), { name: 'InvariantError' }, 'apiKeys that is not an array');
});

void t.test('the controller turns only a well-formed key request into a record', async (t) => {
  const keys = new Map([['k1', key('k1')]]);
  t.same(apiKeyRecord(keys, key('k2')), added(key('k2')), 'a good request');
  const bad: Array<[string, unknown]> = [
    ['not an object', 'k2'],
    ['a secret among the fields', { ...key('k2'), secret: 'plain' }],
    ['no name', { ...key('k2'), name: '' }],
    ['a key id with a dash', key('k-2')],
    ['a cluster grant with a name', key('k2', { grants: [{ resource: 'cluster', name: 'x', operations: ['admin'] }] })],
    ['no operations', key('k2', { grants: [{ resource: 'group', operations: [] }] })],
    ['repeated operations', key('k2', { grants: [{ resource: 'group', operations: ['read', 'read'] }] })],
    ['a negative time', key('k2', { createdAtMs: -1 })],
    ['an id taken', key('k1')],
  ];
  for (const [what, request] of bad) {
    t.equal(codeOf(() => apiKeyRecord(keys, request)), 'INVALID_REQUEST', what);
  }
  t.same(apiKeyRemovedRecord(keys, { keyId: 'k1' }), { type: 'api-key-removed', keyId: 'k1' });
  t.equal(codeOf(() => apiKeyRemovedRecord(keys, { keyId: 'k9' })), 'KEY_NOT_FOUND', 'a key there is not');
  t.equal(codeOf(() => apiKeyRemovedRecord(keys, {})), 'INVALID_REQUEST', 'no key id');
});

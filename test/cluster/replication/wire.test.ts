/**
 * The replica fetch answer's framing: batches travel as raw bytes after a
 * length-prefixed JSON header; a truncated or malformed answer is refused whole with a
 * message naming what is wrong, never half-used.
 */
import t from 'tap';
import {
  decodeFetchResponse, encodeFetchResponse, ReplicaWireError, type ReplicaFetchResponseHeader,
} from '../../../src/cluster/replication/wire.js';

const batchA = Buffer.from('first partition batches');
const batchB = Buffer.from('second');

const header: ReplicaFetchResponseHeader = {
  partitions: [
    { topic: 'orders', partition: 0, highWatermark: 10, logStartOffset: 0, logEndOffset: 12, byteLength: batchA.length },
    { topic: 'orders', partition: 1, error: 'FENCED_LEADER_EPOCH', highWatermark: -1, logStartOffset: -1, logEndOffset: -1, byteLength: 0 },
    { topic: 'orders', partition: 2, highWatermark: 5, logStartOffset: 0, logEndOffset: 7, divergingEpoch: { epoch: 2, endOffset: 4 }, byteLength: 0 },
    { topic: 'payments', partition: 0, highWatermark: 3, logStartOffset: 1, logEndOffset: 3, byteLength: batchB.length },
  ],
};

function encode(value: ReplicaFetchResponseHeader, body: Buffer[]): Buffer {
  return Buffer.concat(encodeFetchResponse(value, body).chunks);
}

/** An answer with a hand-written header, for malformed cases. */
function frame(json: string, body = Buffer.alloc(0)): Buffer {
  const text = Buffer.from(json);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(text.length);
  return Buffer.concat([length, text, body]);
}

void t.test('an answer decodes to the same header with each partition given exactly its own bytes', async (t) => {
  const encoded = encodeFetchResponse(header, [batchA, batchB]);
  t.equal(encoded.chunks[1], batchA, 'the batches are passed on, not copied');
  const answer = Buffer.concat(encoded.chunks);
  t.equal(answer.length, encoded.byteLength);
  const decoded = decodeFetchResponse(answer);
  t.same(decoded.partitions.map(({ records: _records, ...rest }) => rest), header.partitions);
  t.same(decoded.partitions.map((p) => p.records.toString()), [batchA.toString(), '', '', batchB.toString()]);
  t.equal(decoded.partitions[0].records.buffer, answer.buffer, 'records are slices of the answer');
});

void t.test('an empty answer (no partitions) round-trips', async (t) => {
  t.same(decodeFetchResponse(encode({ partitions: [] }, [])), { partitions: [] });
});

void t.test('encoding refuses a body whose length differs from what the header declares', async (t) => {
  t.throws(() => encodeFetchResponse(header, [batchA]), { name: 'ReplicaWireError', message: /declares 29 bytes of batches but carries 23/ });
});

void t.test('a truncated answer is refused at every cut, with a message saying it is truncated or short', async (t) => {
  const answer = encode(header, [batchA, batchB]);
  for (let length = 0; length < answer.length; length++) {
    let error: unknown;
    try {
      decodeFetchResponse(answer.subarray(0, length));
    } catch (caught) {
      error = caught;
    }
    if (!(error instanceof ReplicaWireError) || !/truncated|shorter than|not JSON/.test(error.message)) {
      t.fail(`cut at ${length} of ${answer.length}: ${String(error)}`);
      return;
    }
  }
  t.throws(() => decodeFetchResponse(answer.subarray(0, 2)), { message: 'fetch answer is 2 bytes, shorter than its 4-byte header length' });
  t.throws(() => decodeFetchResponse(answer.subarray(0, 10)), { message: /fetch answer is truncated: its header needs \d+ bytes, 6 are there/ });
  t.throws(() => decodeFetchResponse(answer.subarray(0, answer.length - 1)), { message: /truncated: payments-0 needs bytes 23\.\.29 of the body, which has 28/ });
});

void t.test('trailing bytes after the declared batches are refused', async (t) => {
  const answer = Buffer.concat([encode(header, [batchA, batchB]), Buffer.from('xx')]);
  t.throws(() => decodeFetchResponse(answer), { message: 'fetch answer has 2 bytes after the last partition\'s batches' });
});

void t.test('a malformed header is refused with the field at fault', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['{"partitions":', /not JSON/],
    ['[]', /no "partitions" list/],
    ['{"partitions":[1]}', /partition #0 is not an object/],
    ['{"partitions":[{"partition":0}]}', /"topic" must be a non-empty string/],
    ['{"partitions":[{"topic":"t","partition":-1,"byteLength":0,"highWatermark":0,"logStartOffset":0,"logEndOffset":0}]}', /"partition" must be an integer, got -1/],
    ['{"partitions":[{"topic":"t","partition":0,"byteLength":"3","highWatermark":0,"logStartOffset":0,"logEndOffset":0}]}', /"byteLength" must be an integer, got "3"/],
    ['{"partitions":[{"topic":"t","partition":0,"byteLength":0,"logStartOffset":0,"logEndOffset":0}]}', /"highWatermark" must be an integer/],
    ['{"partitions":[{"topic":"t","partition":0,"byteLength":0,"highWatermark":0,"logStartOffset":0,"logEndOffset":0,"error":"BOOM"}]}', /unknown error "BOOM"/],
    ['{"partitions":[{"topic":"t","partition":0,"byteLength":0,"highWatermark":0,"logStartOffset":0,"logEndOffset":0,"divergingEpoch":{"epoch":1}}]}', /"divergingEpoch" must be/],
  ];
  for (const [json, message] of cases) t.throws(() => decodeFetchResponse(frame(json)), { name: 'ReplicaWireError', message }, json);
  t.throws(() => decodeFetchResponse(frame(
    '{"partitions":[{"topic":"t","partition":0,"byteLength":2,"highWatermark":0,"logStartOffset":0,"logEndOffset":0,"error":"NOT_LEADER"}]}',
    Buffer.from('xx'),
  )), { message: /an error or divergence carries no batches, got 2 bytes/ });
});

import fc from 'fast-check';
import { CLUSTER_LIMITS, checkBusRequest } from '../src/protocol';

const LIMIT = CLUSTER_LIMITS.maxMessageLength;

test('any value that claims to be a bus message is judged without throwing', () => {
  fc.assert(
    fc.property(fc.dictionary(fc.string({ maxLength: 8 }), fc.anything()), fc.constantFrom('join', 'reserve', 'claim', 'publish', 'entries', 'x'), (fields, op) => {
      const verdict = checkBusRequest({ ...fields, op, ics: 'bus' }, LIMIT);
      expect([undefined, 'shape', 'size']).toContain(verdict);
    }),
    { numRuns: 500 },
  );
});

test.each([
  [{ op: 'reserve', id: 1, key: '10.0.0.1', max: 10, perIp: 0 }, undefined],
  [{ op: 'reserve', id: 1, key: '10.0.0.1', max: -1, perIp: 0 }, 'shape'],
  [{ op: 'reserve', id: 1.5, key: 'k', max: 1, perIp: 0 }, 'shape'],
  [{ op: 'reserve', key: 'k'.repeat(1025), max: 1, perIp: 0 }, 'size'],
  [{ op: 'releaseSlot', key: '' }, 'shape'],
  [{ op: 'claim', id: 2, set: 's', key: 'k', value: 'v'.repeat(65537) }, 'size'],
  [{ op: 'claim', id: 2, set: 's', key: 'k', value: 5 }, 'shape'],
  [{ op: 'publish', topic: 't', message: '' }, undefined],
  [{ op: 'publish', topic: 't', message: 'm'.repeat(LIMIT + 1) }, 'size'],
  [{ op: 'join', id: 3, node: 'n', slots: [['k', 2]], claims: [['s', 'k', 'v']], topics: ['t'] }, undefined],
  [{ op: 'join', id: 3, node: 'n', slots: [['k', CLUSTER_LIMITS.maxJoinItems + 1]], claims: [], topics: [] }, 'size'],
  [{ op: 'join', id: 3, node: 'n', slots: [['k']], claims: [], topics: [] }, 'shape'],
  [{ op: 'join', id: 3, slots: [], claims: [], topics: [] }, 'shape'],
  [{ op: 'constructor' }, 'shape'],
])('%j -> %p', (request, verdict) => {
  expect(checkBusRequest(request, LIMIT)).toBe(verdict);
});

// A refusal while other files of the change were on their way (src/sync/verdict/in-flight.ts):
// set aside on the first try only, waited on while those files are judged, tried again when one
// of them was accepted. The behaviour with real Envoy: test/envoy/verdict-corpus.test.ts (01, EDS).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { afterInFlight, defersRefusal } from '../../../src/sync/verdict/in-flight.js';
import type { InFlight } from '../../../src/sync/verdict/in-flight.js';
import type { Judgement } from '../../../src/sync/verdict/judge.js';

const refused: Judgement = { outcome: 'rejected', subscription: 'listener_manager.lds', kind: 'rejected' };
const accepted: Judgement = { outcome: 'accepted', subscriptions: ['listener_manager.lds'] };
const state = (s: Partial<InFlight>): InFlight => ({ inFlight: new Set(), inFlightAccepted: false, retried: false, ...s });

test('defersRefusal: only a first-try refusal with other files on their way is set aside', () => {
  const cases: [string, InFlight, Judgement | undefined, boolean][] = [
    ['alone', state({}), refused, false],
    ['with cds.yaml on its way', state({ inFlight: new Set(['cds.yaml']) }), refused, true],
    ['second try', state({ inFlight: new Set(['cds.yaml']), retried: true }), refused, false],
    ['accepted', state({ inFlight: new Set(['cds.yaml']) }), accepted, false],
    ['undecided', state({ inFlight: new Set(['cds.yaml']) }), { outcome: undefined, waiting: [] }, false],
    ['no answer', state({ inFlight: new Set(['cds.yaml']) }), undefined, false],
  ];
  for (const [name, pending, judgement, want] of cases) assert.equal(defersRefusal(pending, judgement), want, name);
});

test('afterInFlight: wait while one is pending, retry when one was accepted, else the refusal stands', () => {
  const pending = (file: string): boolean => file === 'eds.yaml';
  assert.equal(afterInFlight(state({ inFlight: new Set(['cds.yaml', 'eds.yaml']) }), pending), 'wait');
  assert.equal(afterInFlight(state({ inFlight: new Set(['cds.yaml']), inFlightAccepted: true }), pending), 'retry');
  assert.equal(afterInFlight(state({ inFlight: new Set(['cds.yaml']) }), pending), 'conclude');
});

// What a refused file that stays published means for a restarted Envoy: it refuses it again only
// while a published file names it (named-on-disk.ts readOnDisk, messages.ts restartSentence). A new
// rds.yaml refused with the lds.yaml edit that names it is read by nothing once lds.yaml goes back.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { EnvoyCounters } from '../../../src/sync/envoy/stat-prefixes.js';
import { firstRefusedMessage, restartSentence } from '../../../src/sync/verdict/messages.js';
import { openedSince, readByNothing, readOnDisk } from '../../../src/sync/verdict/named-on-disk.js';
import type { Namer } from '../../../src/sync/verdict/named-on-disk.js';

const lds = (n: Partial<Namer> = {}): Namer => ({ file: 'lds.yaml', edited: true, acceptedNamesIt: false, ...n });

test('readOnDisk: which published files read a refused file once the files refused for it go back', () => {
  const cases: { name: string; namers: Namer[]; opened: boolean; want: ReturnType<typeof readOnDisk> }[] = [
    { name: 'its subscription existed before (Envoy\'s bootstrap, outside the ConfigMap, may name it): not known', namers: [lds()], opened: false, want: undefined },
    { name: 'the lds.yaml edit that names it goes back to one that does not', namers: [lds()], opened: true, want: { named: [], goingBack: ['lds.yaml'] } },
    { name: 'the accepted lds.yaml names it too (a renamed route): still read', namers: [lds({ acceptedNamesIt: true })], opened: true, want: { named: ['lds.yaml'], goingBack: [] } },
    { name: 'no accepted lds.yaml: nothing goes back, it stays and names it', namers: [lds({ acceptedNamesIt: undefined })], opened: true, want: { named: ['lds.yaml'], goingBack: [] } },
    { name: 'lds.yaml already back (its verdict came first): the accepted one is on disk and names it not: no namer at all', namers: [], opened: true, want: { named: [], goingBack: [] } },
    { name: 'a namer not edited (its published content is the accepted one) stays', namers: [lds({ edited: false, acceptedNamesIt: true }), { file: 'lds2.yaml', edited: true, acceptedNamesIt: false }], opened: true, want: { named: ['lds.yaml'], goingBack: ['lds2.yaml'] } },
  ];
  for (const c of cases) assert.deepEqual(readOnDisk(c.namers, c.opened), c.want, c.name);
});

test('openedSince: the refusing subscription was opened by the change only when the baseline was read and lacked it', () => {
  const baseline: EnvoyCounters = { subscriptions: new Map([['listener_manager.lds', { versionText: 'v0', attempt: 1, success: 1, rejected: 0, failure: 0 }]]), unknownFields: 0, sslContextUpdates: 0 };
  const refused = (subscription: string) => ({ outcome: 'rejected' as const, subscription, kind: 'rejected' as const });
  assert.equal(openedSince(baseline, refused('http.ingress_http.rds.local_route')), true);
  assert.equal(openedSince(baseline, refused('listener_manager.lds')), false);
  assert.equal(openedSince(undefined, refused('http.ingress_http.rds.local_route')), false, 'no baseline (found at start): not known');
  assert.equal(openedSince(baseline, undefined), false);
  assert.equal(openedSince(baseline, { outcome: 'accepted', subscriptions: [] }), false);
});

test('restartSentence and the refusal line: "will refuse it again" only while a published file names it', () => {
  const cases: { read: Parameters<typeof restartSentence>[0]; want: string }[] = [
    { read: undefined, want: 'a restarted Envoy will refuse it again' },
    { read: { named: ['lds.yaml'], goingBack: [] }, want: 'a restarted Envoy will refuse it again' },
    { read: { named: ['lds.yaml'], goingBack: ['lds2.yaml'] }, want: 'a restarted Envoy will refuse it again' },
    { read: { named: [], goingBack: [] }, want: 'no published file names it now, so a restarted Envoy does not read it' },
    { read: { named: [], goingBack: ['lds.yaml'] }, want: 'no published file names it once lds.yaml, which names it, goes back to the last accepted version, so a restarted Envoy does not read it' },
    { read: { named: [], goingBack: ['a.yaml', 'b.yaml'] }, want: 'no published file names it once a.yaml, b.yaml, which name it, go back to the last accepted version, so a restarted Envoy does not read it' },
  ];
  for (const c of cases) assert.equal(restartSentence(c.read), c.want, JSON.stringify(c.read));
  assert.equal(
    firstRefusedMessage('rds.yaml', 'v1', undefined, undefined, undefined, { named: [], goingBack: ['lds.yaml'] }),
    'Envoy REFUSED rds.yaml version v1, and no version of rds.yaml was accepted before it, so there is nothing to put back: it stays published; Envoy runs WITHOUT the resources of rds.yaml, and no published file names it once lds.yaml, which names it, goes back to the last accepted version, so a restarted Envoy does not read it; fix the ConfigMap',
  );
  assert.match(firstRefusedMessage('lds.yaml', 'v1', undefined), /, and a restarted Envoy will refuse it again; fix the ConfigMap$/);
});

test('readByNothing: the refusal line of a file nothing published names is an error, fatal only while Envoy reads it (or may: not known)', () => {
  const cases: { read: Parameters<typeof readByNothing>[0]; want: boolean }[] = [
    { read: undefined, want: false }, // its bootstrap may name it: fatal
    { read: { named: ['lds.yaml'], goingBack: [] }, want: false },
    { read: { named: ['lds.yaml'], goingBack: ['lds2.yaml'] }, want: false },
    { read: { named: [], goingBack: [] }, want: true },
    { read: { named: [], goingBack: ['cds.yaml'] }, want: true },
  ];
  for (const c of cases) assert.equal(readByNothing(c.read), c.want, JSON.stringify(c.read));
});

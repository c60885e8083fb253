// What a refusal puts back on disk (src/sync/verdict/put-back.ts whatGoesBack): never an older
// version over a publish renamed after the refused one that Envoy runs (plain-directory trial of
// issue 18: the accepted A put back over C, which Envoy ran and the ConfigMap held).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { whatGoesBack } from '../../../src/sync/verdict/put-back.js';
import type { GoesBack } from '../../../src/sync/verdict/put-back.js';
import type { PublishRecord } from '../../../src/sync/verdict/superseded-fate.js';

test('whatGoesBack: the last accepted version, a replaced version Envoy runs, or nothing when Envoy runs a newer publish', () => {
  const refused = { version: 'B', sha256: 'b', at: 100 };
  const publishes: PublishRecord[] = [{ version: 'A', sha256: 'a', at: 50 }, { version: 'B', sha256: 'b', at: 100 }, { version: 'C', sha256: 'c', at: 110 }];
  const cases: { name: string; running: string | undefined; publishes?: PublishRecord[]; replaced?: string[]; want: GoesBack }[] = [
    { name: 'Envoy runs the last accepted version', running: 'A', want: { kind: 'last' } },
    { name: 'Envoy reported no version', running: undefined, want: { kind: 'last' } },
    { name: 'Envoy runs no version yet (empty version_text)', running: '', want: { kind: 'last' } },
    { name: 'Envoy reports the refused version (it ran it before)', running: 'B', want: { kind: 'last' } },
    { name: 'Envoy runs C, renamed after B', running: 'C', want: { kind: 'nothing', runs: 'C' } },
    { name: 'Envoy runs C, renamed after B and replaced too', running: 'C', replaced: ['C'], want: { kind: 'nothing', runs: 'C' } },
    { name: 'Envoy runs a version replaced before B (published before it)', running: 'R', publishes: [...publishes, { version: 'R', sha256: 'r', at: 80 }], replaced: ['R'], want: { kind: 'replaced', version: 'R' } },
    { name: 'Envoy runs a version the tracker never heard of', running: 'X', want: { kind: 'last' } },
    { name: 'the same content as B renamed again after it is not newer', running: 'B2', publishes: [...publishes, { version: 'B2', sha256: 'b', at: 120 }], want: { kind: 'last' } },
  ];
  for (const c of cases) {
    const got = whatGoesBack({ running: c.running, previousVersion: 'A', refused, publishes: c.publishes ?? publishes, replaced: (v) => (c.replaced ?? []).includes(v) });
    assert.deepEqual(got, c.want, c.name);
  }
});

// The last-accepted store's ConfigMap as the writer reads and writes it (src/sync/last-accepted/store-body.ts):
// a new store's body, whether a ConfigMap of that name is the injector's store for this ConfigMap,
// its record read or started afresh, and what an API status means for a write.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { LAST_ACCEPTED_RECORD_KEY } from '../../../src/inject/last-accepted.js';
import { newStoreBody, notOurs, recordOf, writeStatus, type ConfigMapBody } from '../../../src/sync/last-accepted/store-body.js';

const OURS = { 'app.kubernetes.io/managed-by': 'envoy-xds-injector' };
const ANNOTATION = 'envoy-xds-injector.io/configmap';
const body = (labels?: Record<string, string>, annotations?: Record<string, string>, data?: Record<string, string>): ConfigMapBody => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'envoy-xds-envoy-xds-accepted', namespace: 'shop', ...(labels === undefined ? {} : { labels }), ...(annotations === undefined ? {} : { annotations }) },
  ...(data === undefined ? {} : { data }),
});

test('newStoreBody: labelled managed-by the injector, annotated with its source ConfigMap, no data', () => {
  const made = newStoreBody('envoy-xds-envoy-xds-accepted', 'shop', 'envoy-xds');
  assert.deepEqual(made, body(OURS, { [ANNOTATION]: 'envoy-xds' }));
  assert.equal(notOurs(made, 'envoy-xds'), undefined, 'what it creates is its own');
});

test("notOurs: the injector's label, and no annotation or this ConfigMap's", () => {
  const cases: { body: ConfigMapBody; want: string | undefined; why: string }[] = [
    { body: body(OURS, { [ANNOTATION]: 'envoy-xds' }), want: undefined, why: 'ours' },
    { body: body(OURS), want: undefined, why: 'labelled, not annotated (rbac printed it)' },
    { body: body(), want: 'label app.kubernetes.io/managed-by=envoy-xds-injector', why: 'a ConfigMap of the same name, not ours' },
    { body: body({ 'app.kubernetes.io/managed-by': 'helm' }), want: 'label app.kubernetes.io/managed-by=envoy-xds-injector', why: 'another manager' },
    { body: body(OURS, { [ANNOTATION]: 'other' }), want: `label app.kubernetes.io/managed-by=envoy-xds-injector, annotation ${ANNOTATION}=other`, why: "another ConfigMap's store" },
  ];
  for (const c of cases) assert.equal(notOurs(c.body, 'envoy-xds'), c.want, c.why);
});

test('recordOf: none yet, as parsed, or afresh when it does not parse', () => {
  const record = { configMap: 'envoy-xds', files: { 'lds.yaml': { refused: { sha256: 'ab'.repeat(32), at: 't' } } } };
  assert.deepEqual(recordOf(body(OURS), 'envoy-xds'), { record: { configMap: 'envoy-xds', files: {} }, absent: true });
  assert.deepEqual(recordOf(body(OURS, undefined, { [LAST_ACCEPTED_RECORD_KEY]: JSON.stringify(record) }), 'envoy-xds'), { record, absent: false });
  for (const [text, error] of [['{', /JSON/], ['[]', /no "configMap" string/], ['{"configMap":"x"}', /no "files" object/]] as const) {
    const read = recordOf(body(OURS, undefined, { [LAST_ACCEPTED_RECORD_KEY]: text }), 'envoy-xds');
    assert.deepEqual([read.record, read.absent], [{ configMap: 'envoy-xds', files: {} }, false], text);
    assert.match(read.error ?? '', error, text);
  }
});

test('writeStatus: 2xx written, 403 forbidden, 422/413 invalid, anything else retried', () => {
  const cases: [number, ReturnType<typeof writeStatus>][] = [[200, 'written'], [201, 'written'], [299, 'written'], [403, 'forbidden'], [422, 'invalid'], [413, 'invalid'], [401, 'retry'], [409, 'retry'], [429, 'retry'], [500, 'retry'], [503, 'retry'], [300, 'retry']];
  for (const [status, want] of cases) assert.equal(writeStatus(status), want, String(status));
});

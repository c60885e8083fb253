import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { pino } from 'pino';
import { EventRecorder, Reporters, verdictOccurrence, type VerdictRecord } from '../../src/sync/watch/reporters.js';
import type { SyncResult } from '../../src/sync/publish/pass-result.js';
import type { ApiResponse, KubeConnection } from '../../src/sync/kube/connection.js';

interface Call { method: string; path: string; body: unknown }

function fakeConnection(answer: (call: Call) => number = (c) => (c.method === 'POST' ? 201 : 200)) {
  const calls: Call[] = [];
  const connection: KubeConnection = {
    server: 'https://fake',
    origin: 'fake',
    request: async (method, path, body) => {
      await new Promise((resolve) => setImmediate(resolve));
      const call = { method, path, body };
      calls.push(call);
      const status = answer(call);
      const response: ApiResponse = { status, body: status === 403 ? { message: 'events is forbidden: User "system:serviceaccount:ns:sa" cannot create resource "events"' } : {}, text: '' };
      return response;
    },
    watchConfig: { getCurrentCluster: () => ({ server: 'https://fake' }), applyToFetchOptions: () => Promise.resolve({ agent: undefined, headers: {} }) },
    close: () => undefined,
  };
  return { connection, calls };
}

const pod = { namespace: 'ns', name: 'envoy-0', uid: 'u-1' };

test('verdicts map to XdsAccepted / XdsRejected / XdsRolledBack with file, version and latency', () => {
  const accepted = verdictOccurrence({ file: 'lds.yaml', version: 'abc', outcome: 'accepted', rolledBack: false, latencyMs: 12.4, message: 'Envoy serves it', resourceVersion: '42' });
  assert.equal(accepted.reason, 'XdsAccepted');
  assert.equal(accepted.type, 'Normal');
  assert.match(accepted.message, /lds\.yaml version abc, ConfigMap resourceVersion 42, after 12 ms: Envoy serves it/);
  assert.equal(verdictOccurrence({ file: 'a', version: 'v', outcome: 'rejected', rolledBack: false, message: 'm' }).reason, 'XdsRejected');
  const rolled = verdictOccurrence({ file: 'a', version: 'v2', previousVersion: 'v1', outcome: 'rejected', rolledBack: true, message: 'm' });
  assert.equal(rolled.reason, 'XdsRolledBack');
  assert.equal(rolled.type, 'Warning');
  assert.match(rolled.message, /rolled back to v1/);
});

test('a verdict\'s Event names the ConfigMap resourceVersion of the content judged: a version replaced before its verdict came keeps its own, not the newer one\'s', () => {
  class Capture extends EventRecorder {
    readonly seen: VerdictRecord[] = [];
    override verdict(verdict: VerdictRecord): void {
      this.seen.push(verdict);
    }
  }
  const recorder = new Capture({ connection: fakeConnection().connection, pod, logger: pino({ level: 'silent' }) });
  const reporters = new Reporters(recorder, undefined);
  const pass = (resourceVersion: string, sha256: string): SyncResult => ({
    dataDir: undefined, resourceVersion, published: ['lds.yaml'], rejected: [], missing: [], removed: [], keys: 1, changedBytes: 10,
    stamped: new Map([['lds.yaml', { version: `v${resourceVersion}`, sha256 }]]), heldBack: [],
  });
  reporters.onPass(pass('10', 'a'.repeat(64)));
  reporters.onPass(pass('11', 'b'.repeat(64))); // replaces 10 before its verdict
  const verdict = (sha256: string, outcome: 'accepted' | 'rejected') => ({ file: 'lds.yaml', version: 'v', sha256, outcome, rolledBack: false, message: 'm' });
  reporters.onVerdict(verdict('a'.repeat(64), 'rejected'));
  reporters.onVerdict(verdict('b'.repeat(64), 'accepted'));
  reporters.onVerdict(verdict('c'.repeat(64), 'accepted')); // published before the watcher started: not known
  assert.deepEqual(recorder.seen.map((v) => v.resourceVersion), ['10', '11', undefined]);
});

test('one Event per series: created once, then patched with the count and the latest message', async () => {
  const { connection, calls } = fakeConnection();
  const recorder = new EventRecorder({ connection, pod, logger: pino({ level: 'silent' }) });
  recorder.record({ type: 'Normal', reason: 'XdsPublished', file: 'lds.yaml', message: 'v1' });
  await recorder.flush();
  recorder.record({ type: 'Normal', reason: 'XdsPublished', file: 'lds.yaml', message: 'v2' });
  await recorder.flush();
  assert.equal(calls.length, 2);
  const [first, second] = calls;
  assert.ok(first && second);
  assert.equal(first.method, 'POST');
  const created = first.body as { involvedObject: { kind: string; name: string; uid: string }; count: number; reason: string; metadata: { name: string } };
  assert.deepEqual([created.involvedObject.kind, created.involvedObject.name, created.involvedObject.uid, created.count], ['Pod', 'envoy-0', 'u-1', 1]);
  assert.match(created.metadata.name, /^envoy-0\.[0-9a-f]{16}$/);
  assert.equal(second.method, 'PATCH');
  assert.equal(second.path, `/api/v1/namespaces/ns/events/${created.metadata.name}`);
  assert.deepEqual({ ...(second.body as object), lastTimestamp: undefined }, { count: 2, message: 'v2', lastTimestamp: undefined });
  await recorder.close();
});

test('a burst makes at most `burst` writes at once; the rest coalesce and the latest is written when a token returns', async () => {
  const { connection, calls } = fakeConnection();
  const recorder = new EventRecorder({ connection, pod, logger: pino({ level: 'silent' }), burst: 5, refillMs: 300 });
  for (let i = 1; i <= 100; i++) {
    recorder.record({ type: 'Normal', reason: 'XdsPublished', file: 'lds.yaml', message: `v${String(i)}` });
    await new Promise((resolve) => setImmediate(resolve));
  }
  await recorder.flush();
  assert.ok(calls.length <= 5, `${String(calls.length)} writes for 100 occurrences with a burst of 5`);
  const last = calls.at(-1)?.body as { count: number; message: string };
  assert.notEqual(last.message, 'v100', 'no token left: the last occurrence waits');
  await new Promise((resolve) => setTimeout(resolve, 1500)); // the refill timer (one token per 300 ms)
  await recorder.flush();
  assert.ok(calls.length <= 5 + 1 + 5, `${String(calls.length)} writes: the burst, then one per token while something is pending`);
  const final = calls.at(-1)?.body as { count: number; message: string };
  assert.deepEqual([final.count, final.message], [100, 'v100']);
  await recorder.close();
});

test('no permission for events: one warning naming the fix and when it tries again; the Events kept are written once the API is usable again', async () => {
  const { connection, calls } = fakeConnection(() => 403);
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => { lines.push(line); } });
  const recorder = new EventRecorder({ connection, pod, logger, fixCommand: 'envoy-xds-injector rbac --namespace ns ...' });
  for (let i = 0; i < 10; i++) {
    recorder.record({ type: 'Normal', reason: 'XdsPublished', file: `f${String(i)}`, message: 'm' });
    await recorder.flush();
  }
  assert.equal(calls.length, 1);
  const warnings = lines.filter((l) => l.includes('cannot record Events'));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? '', /envoy-xds-injector rbac --namespace ns/);
  assert.match(warnings[0] ?? '', /tried again in 10 s, doubling to 300 s, and at once when the Kubernetes API is usable again/);
  await recorder.close();
});

test('no permission for events, then the Role applied: what was pending is written at once (latest of each series), said once', async () => {
  let allowed = false;
  const { connection, calls } = fakeConnection((c) => (!allowed ? 403 : c.method === 'POST' ? 201 : 200));
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => { lines.push(line); } });
  const recorder = new EventRecorder({ connection, pod, logger });
  recorder.record({ type: 'Warning', reason: 'XdsRejected', file: 'lds.yaml', message: 'first refused' });
  await recorder.flush();
  recorder.record({ type: 'Warning', reason: 'XdsAcceptedWithWarnings', file: 'cds.yaml', message: 'ignored a field' });
  await recorder.flush();
  assert.equal(calls.length, 1, 'paused after the 403');
  recorder.permissionsMayHaveChanged(); // still forbidden: one more try, paused again (20 s)
  await recorder.flush();
  assert.equal(calls.length, 2);
  allowed = true;
  recorder.permissionsMayHaveChanged();
  await recorder.flush();
  const created = calls.filter((c) => c.method === 'POST' && (c.body as { reason?: string }).reason !== undefined).slice(2) as { body: { reason: string; message: string } }[];
  assert.deepEqual(created.map((c) => [c.body.reason, c.body.message]).sort(), [['XdsAcceptedWithWarnings', 'ignored a field'], ['XdsRejected', 'first refused']]);
  assert.equal(lines.filter((l) => l.includes('cannot record Events')).length, 1);
  assert.equal(lines.filter((l) => l.includes('Events can be recorded again')).length, 1);
  await recorder.close();
});

// Which of Envoy's subscriptions read which file, and Envoy's verdict from its counters: table
// tests over counters shaped as Envoy 1.40 reports them (measured in test/envoy/verdict-corpus.test.ts).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { attribute } from '../../../src/sync/verdict/attribution.js';
import type { FileFacts } from '../../../src/sync/verdict/attribution.js';
import { ignoredFieldsSince, judge, openedScopes, pollDelayMs, startedLoading } from '../../../src/sync/verdict/judge.js';
import type { EnvoyCounters, SubscriptionCounters } from '../../../src/sync/envoy/stat-prefixes.js';
import { parseSubscriptionStats, statNameOf, subscriptionType } from '../../../src/sync/envoy/stat-prefixes.js';

const counters = (c: Partial<SubscriptionCounters>): SubscriptionCounters => ({ versionText: '', attempt: 0, success: 0, rejected: 0, failure: 0, ...c });
const envoy = (subs: Record<string, Partial<SubscriptionCounters>>, unknownFields = 0): EnvoyCounters => ({
  subscriptions: new Map(Object.entries(subs).map(([k, v]) => [k, counters(v)])),
  unknownFields,
  sslContextUpdates: 0,
});
const file = (name: string, readAs: string[], versions: string[] = []): FileFacts => ({ name, readAs: new Set(readAs) as FileFacts['readAs'], versions: new Set(versions) });

test("Envoy's stats: subscriptions are the scopes with a version_text, typed by the head Envoy gives them", () => {
  const parsed = parseSubscriptionStats([
    'cluster.outbound_8080_backend.update_attempt: 2',
    'cluster.outbound_8080_backend.update_success: 2',
    'cluster.outbound_8080_backend.version_text: "v1+sha256:0123456789ab"',
    'cluster.static_one.update_attempt: 0',
    'http.ingress_http.rds.backend.default.svc.cluster.local_8080.update_rejected: 1',
    'http.ingress_http.rds.backend.default.svc.cluster.local_8080.version_text: ""',
    'sds.kubernetes_envoy-tls.key_rotation_failed: 2',
    'sds.kubernetes_envoy-tls.version_text: "a"',
    'server.dynamic_unknown_fields: 3',
    'listener.127.0.0.1_8443.server_ssl_socket_factory.ssl_context_update_by_sds: 2',
    'cluster.up.client_ssl_socket_factory.ssl_context_update_by_sds: 1',
  ].join('\n'));
  assert.equal(parsed.sslContextUpdates, 3);
  assert.deepEqual([...parsed.subscriptions.keys()], ['cluster.outbound_8080_backend', 'http.ingress_http.rds.backend.default.svc.cluster.local_8080', 'sds.kubernetes_envoy-tls']);
  assert.equal(parsed.subscriptions.get('cluster.outbound_8080_backend')?.versionText, 'v1+sha256:0123456789ab');
  assert.equal(parsed.subscriptions.get('sds.kubernetes_envoy-tls')?.keyRotationFailed, 2);
  assert.equal(parsed.unknownFields, 3);
  const types = ['listener_manager.lds', 'cluster_manager.cds', 'http.a.rds.r', 'cluster.x', 'sds.s', 'extension_config_discovery.http_filter.f', 'runtime.x'].map(subscriptionType);
  assert.deepEqual(types, ['LDS', 'CDS', 'RDS', 'EDS', 'SDS', 'ECDS', undefined]);
  // Scoped routes (verdict case 13) and RTDS (14): Envoy's heads `http.<stat_prefix>.scoped_rds.<name>` and `runtime`.
  const more = ['http.ingress_http.scoped_rds.tenant_scopes', 'http.ingress.rds.scoped_rds.x', 'runtime', 'runtime.load_success'].map(subscriptionType);
  assert.deepEqual(more, ['SRDS', 'SRDS', 'RTDS', undefined]);
});

test('attribution: by the version Envoy reports, else by type when one file is read as it', () => {
  const files = [file('lds.yaml', ['LDS'], ['l1']), file('rds.yaml', ['RDS'], ['r1', 'r2']), file('eds.yaml', ['EDS'], ['e1']), file('rds2.yaml', [], ['x'])];
  const subs = envoy({
    'listener_manager.lds': { versionText: 'l1' },
    // 02: one shared subscription named after the first listener's stat_prefix.
    'http.ingress_a.rds.shared': { versionText: 'r2' },
    // 07: opened by an edit, refused at once: no version yet; matched by type.
    'http.ingress_http.rds.renamed': { rejected: 1, attempt: 1 },
    // 05: alt_stat_name, not the cluster's name.
    'cluster.outbound_8080_backend': { versionText: 'e1' },
    'sds.unrelated': { versionText: 'zzz' },
  }).subscriptions;
  assert.deepEqual(Object.fromEntries(attribute(subs, files)), {
    'listener_manager.lds': 'lds.yaml',
    'http.ingress_a.rds.shared': 'rds.yaml',
    'http.ingress_http.rds.renamed': 'rds.yaml',
    'cluster.outbound_8080_backend': 'eds.yaml',
  });
  // Two files read as RDS: a scope with no version of ours stays unattributed, unless known before.
  const two = [file('a.yaml', ['RDS']), file('b.yaml', ['RDS'])];
  const fresh = envoy({ 'http.x.rds.r': { rejected: 1, attempt: 1 } }).subscriptions;
  assert.deepEqual(attribute(fresh, two).size, 0);
  assert.deepEqual(Object.fromEntries(attribute(fresh, two, new Map([['http.x.rds.r', 'b.yaml']]))), { 'http.x.rds.r': 'b.yaml' });
  // The tie is broken by the one file asked for a resource whose stat name ends the scope (Envoy
  // sanitises ':' and '://' to '_'); none, or two, and the scope stays out.
  const asked = (name: string, rds: string, sds?: string): FileFacts => ({ ...file(name, ['RDS', 'SDS']), scopeNames: [{ type: 'RDS', name: rds }, ...(sds === undefined ? [] : [{ type: 'SDS' as const, name: sds }])] });
  const named = envoy({ 'http.admin_http.rds.admin_http': { rejected: 1, attempt: 1 }, 'sds.kubernetes_tls-b': { rejected: 1, attempt: 1 }, 'http.x.rds.other': { rejected: 1, attempt: 1 } }).subscriptions;
  assert.deepEqual(Object.fromEntries(attribute(named, [asked('rds.yaml', 'local_route', 'kubernetes://tls-a'), asked('rds-admin.yaml', 'admin_http', 'kubernetes://tls-b')])), { 'http.admin_http.rds.admin_http': 'rds-admin.yaml', 'sds.kubernetes_tls-b': 'rds-admin.yaml' });
  assert.equal(attribute(named, [asked('a.yaml', 'admin_http'), asked('b.yaml', 'admin_http')]).size, 0, 'both asked for it');
  assert.deepEqual(['kubernetes://envoy-tls', 'backend.default.svc.cluster.local:8080', 'a:/b', '.x.'].map(statNameOf), ['kubernetes_envoy-tls', 'backend.default.svc.cluster.local_8080', 'a_b', 'x']);
});

test('judge: accepted, rejected or undecided from the counters before the rename and now', () => {
  const lds = 'listener_manager.lds';
  const base = envoy({ [lds]: { versionText: 'v1', attempt: 2, success: 2 } });
  const input = { version: 'v2', previousVersion: 'v1', baseline: base, subscriptions: [lds], named: new Map<string, string>() };
  assert.deepEqual(judge({ ...input, now: envoy({ [lds]: { versionText: 'v2', attempt: 3, success: 3 } }) }), { outcome: 'accepted', subscriptions: [lds] });
  assert.deepEqual(judge({ ...input, now: envoy({ [lds]: { versionText: 'v1', attempt: 3, success: 2, failure: 1 } }) }), { outcome: 'rejected', subscription: lds, kind: 'failure' });
  // Not reloaded yet: it read the previous version, so it must reload.
  assert.deepEqual(judge({ ...input, now: base }), { outcome: undefined, waiting: [lds] });
  // 03: "0" never bumped → versions are unique per content; the rollback's success does not count for v3.
  const after = envoy({ [lds]: { versionText: 'v1', attempt: 5, success: 3, failure: 2 } });
  assert.equal(judge({ ...input, version: 'v3', baseline: envoy({ [lds]: { versionText: 'v1', attempt: 4, success: 3, failure: 1 } }), now: after }).outcome, 'rejected');
  // 03 B (watched_directory): a sibling's rename reloads the old file first: success, old version → wait.
  assert.deepEqual(judge({ ...input, now: envoy({ [lds]: { versionText: 'v1', attempt: 3, success: 3 } }) }), { outcome: undefined, waiting: [lds] });
  // Envoy restarted (counters went down): compared with zeros.
  assert.equal(judge({ ...input, now: envoy({ [lds]: { versionText: 'v2', attempt: 1, success: 1 } }) }).outcome, 'accepted');
});

test('judge: shared and gone subscriptions, and the subscriptions an edit opens', () => {
  const rds = 'http.a.rds.r';
  const dead = 'http.a.rds.old';
  const input = { version: 'r2', previousVersion: 'r1', named: new Map<string, string>() };
  // 07's leftover: a scope that read an older version and never reloads is not waited for.
  const baseline = envoy({ [rds]: { versionText: 'r1', attempt: 1, success: 1 }, [dead]: { versionText: 'r0', attempt: 1, success: 1 } });
  assert.equal(judge({ ...input, baseline, subscriptions: [rds, dead], now: envoy({ [rds]: { versionText: 'r2', attempt: 2, success: 2 }, [dead]: { versionText: 'r0', attempt: 1, success: 1 } }) }).outcome, 'accepted');
  // A scope that read the previous version but is gone from Envoy's config: given up on by the tracker.
  const both = envoy({ [rds]: { versionText: 'r1', attempt: 1, success: 1 }, [dead]: { versionText: 'r1', attempt: 1, success: 1 } });
  const nowBoth = envoy({ [rds]: { versionText: 'r2', attempt: 2, success: 2 }, [dead]: { versionText: 'r1', attempt: 1, success: 1 } });
  assert.deepEqual(judge({ ...input, baseline: both, subscriptions: [rds, dead], now: nowBoth }), { outcome: undefined, waiting: [dead] });
  assert.equal(judge({ ...input, baseline: both, subscriptions: [rds, dead], now: nowBoth, gone: new Set([dead]) }).outcome, 'accepted');

  // 07: lds.yaml accepted, but the RDS subscription it opened refused rds.yaml.
  const lds = 'listener_manager.lds';
  const opened = 'http.ingress_http.rds.renamed_route';
  const ldsInput = { version: 'l2', previousVersion: 'l1', baseline: envoy({ [lds]: { versionText: 'l1', attempt: 1, success: 1 } }), subscriptions: [lds], named: new Map([[opened, 'rds.yaml']]) };
  assert.deepEqual(
    judge({ ...ldsInput, now: envoy({ [lds]: { versionText: 'l2', attempt: 2, success: 2 }, [opened]: { attempt: 1, rejected: 1 } }) }),
    { outcome: 'rejected', subscription: opened, kind: 'rejected', created: { file: 'rds.yaml' } },
  );
  assert.deepEqual(judge({ ...ldsInput, now: envoy({ [lds]: { versionText: 'l2', attempt: 2, success: 2 }, [opened]: {} }) }), { outcome: undefined, waiting: [opened] });
  assert.equal(judge({ ...ldsInput, now: envoy({ [lds]: { versionText: 'l2', attempt: 2, success: 2 }, [opened]: { versionText: 'r1', attempt: 1, success: 1 } }) }).outcome, 'accepted');
  // 07, EDS: cds.yaml renamed again after its first refusal (in-flight.ts): the second rename's
  // baseline has the EDS scope the first one opened; it is still this edit's, and it refused eds.yaml.
  const cds = 'cluster_manager.cds';
  const eds = 'cluster.EnvoyNetCore';
  const retried = { version: 'c2', previousVersion: 'c1', subscriptions: [cds], named: new Map([[eds, 'eds.yaml']]) };
  const firstBaseline = envoy({ [cds]: { versionText: 'c1', attempt: 1, success: 1 } });
  const secondBaseline = envoy({ [cds]: { versionText: 'c2', attempt: 2, success: 2 }, [eds]: { attempt: 1, rejected: 1 } });
  const afterSecond = envoy({ [cds]: { versionText: 'c2', attempt: 3, success: 3 }, [eds]: { attempt: 1, rejected: 1 } });
  assert.equal(judge({ ...retried, baseline: secondBaseline, now: afterSecond }).outcome, 'accepted', 'without `opened`: the scope reads as older than the edit');
  const opened2 = openedScopes(firstBaseline, retried.named);
  assert.deepEqual([...opened2], [eds]);
  assert.deepEqual(judge({ ...retried, baseline: secondBaseline, now: afterSecond, opened: opened2 }), { outcome: 'rejected', subscription: eds, kind: 'rejected', created: { file: 'eds.yaml' } });
  // The scope took a later eds.yaml: no refusal of this edit's.
  assert.equal(judge({ ...retried, baseline: secondBaseline, now: envoy({ [cds]: { versionText: 'c2', attempt: 3, success: 3 }, [eds]: { versionText: 'e2', attempt: 2, rejected: 1, success: 1 } }), opened: opened2 }).outcome, 'accepted');
  assert.deepEqual([...openedScopes(secondBaseline, retried.named, opened2)], [eds], 'kept across renames');
  assert.deepEqual([...openedScopes(undefined, retried.named)], [], 'no baseline: nothing tells them apart');
  // A held lds.yaml published again names a subscription its first version opened (its stats stay
  // after the rollback removed the listener) that never took a version: its refusals since this
  // rename are this edit's; one that took a version before is not (a route file judged on its own).
  const again = 'http.admin_http.rds.admin_http';
  const heldInput = { version: 'l2', previousVersion: 'l1', subscriptions: [lds], named: new Map([[again, 'rds.yaml']]), baseline: envoy({ [lds]: { versionText: 'l1', attempt: 3, success: 2, rejected: 1 }, [again]: { attempt: 1, rejected: 1 } }) };
  assert.deepEqual(judge({ ...heldInput, now: envoy({ [lds]: { versionText: 'l2', attempt: 4, success: 3, rejected: 1 }, [again]: { attempt: 2, rejected: 2 } }) }), { outcome: 'rejected', subscription: again, kind: 'rejected', created: { file: 'rds.yaml' } });
  assert.equal(judge({ ...heldInput, now: envoy({ [lds]: { versionText: 'l2', attempt: 4, success: 3, rejected: 1 }, [again]: { attempt: 1, rejected: 1 } }) }).outcome, 'accepted', 'no refusal since the rename');
  // Its kind is what moved since the rename: a failure (the file missing) after an earlier rejection is a failure.
  assert.deepEqual(judge({ ...heldInput, now: envoy({ [lds]: { versionText: 'l2', attempt: 4, success: 3, rejected: 1 }, [again]: { attempt: 2, rejected: 1, failure: 1 } }) }), { outcome: 'rejected', subscription: again, kind: 'failure', created: { file: 'rds.yaml' } });
  assert.equal(judge({ ...heldInput, baseline: envoy({ [lds]: { versionText: 'l1', attempt: 3, success: 2 }, [again]: { versionText: 'r1', attempt: 1, success: 1 } }), now: envoy({ [lds]: { versionText: 'l2', attempt: 4, success: 3 }, [again]: { versionText: 'r1', attempt: 2, success: 1, rejected: 1 } }) }).outcome, 'accepted', 'took a version before: its refusal is its own file\'s');
  // 22: rds.yaml renames its route configuration with the lds.yaml naming it: the subscription of
  // the replaced listener (it ran r1) refuses r2, the one the new listener opened takes it.
  const oldRds = 'http.ingress_http.rds.local_route';
  const newRds = 'http.ingress_http.rds.local_route_2';
  const renamed = { version: 'r2', previousVersion: 'r1', subscriptions: [oldRds, newRds], named: new Map<string, string>(), baseline: envoy({ [oldRds]: { versionText: 'r1', attempt: 1, success: 1 } }) };
  const oldAndNew = envoy({ [oldRds]: { versionText: 'r1', attempt: 2, success: 1, rejected: 1 }, [newRds]: { versionText: 'r2', attempt: 1, success: 1 } });
  assert.equal(judge({ ...renamed, now: oldAndNew }).outcome, 'rejected', 'without leftover: the old subscription\'s refusal');
  assert.deepEqual(judge({ ...renamed, now: oldAndNew, leftover: new Set([oldRds]) }), { outcome: 'accepted', subscriptions: [newRds] });
  assert.deepEqual(judge({ ...renamed, subscriptions: [oldRds], now: envoy({ [oldRds]: { versionText: 'r1', attempt: 2, success: 1, rejected: 1 } }), leftover: new Set([oldRds]) }), { outcome: undefined, waiting: [] }, 'the new subscription not there yet: wait');
  // Without a version (flow-style file): a success and no refusal.
  assert.equal(judge({ version: undefined, previousVersion: undefined, baseline: envoy({ [lds]: { attempt: 1, success: 1 } }), subscriptions: [lds], named: new Map(), now: envoy({ [lds]: { attempt: 2, success: 2 } }) }).outcome, 'accepted');
});

test('ignored unknown fields since the rename (server.dynamic_unknown_fields)', () => {
  assert.equal(ignoredFieldsSince(envoy({}, 1), envoy({}, 3)), 2);
  assert.equal(ignoredFieldsSince(envoy({}, 3), envoy({}, 3)), 0);
  assert.equal(ignoredFieldsSince(undefined, envoy({}, 3)), 0);
  assert.equal(ignoredFieldsSince(envoy({}, 5), envoy({}, 1)), 0);
});

test('a file found at start waits for Envoy to start loading it; polls back off', () => {
  assert.equal(startedLoading(['listener_manager.lds'], envoy({ 'listener_manager.lds': { attempt: 1 } })), true);
  assert.equal(startedLoading(['listener_manager.lds'], envoy({ 'listener_manager.lds': {} })), false);
  assert.equal(startedLoading([], envoy({})), false);
  assert.deepEqual([0, 199, 200, 999, 1000, 9999, 10_000].map((ms) => pollDelayMs(ms)), [10, 10, 20, 20, 100, 100, 500]);
  // A costly reading (many stats: Envoy answers on its main thread) spaces the requests out: 4 round trips at least, 50 ms at most.
  assert.deepEqual([[0, 0.2], [0, 2.4], [0, 10.9], [0, 36.7], [0, 300], [1000, 10.9], [10_000, 36.7]].map(([since, answer]) => pollDelayMs(since ?? 0, answer)), [10, 10, 44, 50, 50, 100, 500]);
});

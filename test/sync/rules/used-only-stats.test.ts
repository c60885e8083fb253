// Envoy's counters read from `/stats?usedonly`: the same subscriptions as from every stat, or the
// scopes only every stat can tell. Bodies as Envoy 1.40 answered them (test/envoy/counters-used-only.test.ts):
// a listener refused at start, a DNS cluster, an EDS cluster whose file Envoy could not convert, one it took.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EnvoyAdmin } from '../../../src/sync/envoy/admin.js';
import { VERSION_TEXTS_PATH, parseSubscriptionStats, parseUsedOnlyStats, parseVersionTexts } from '../../../src/sync/envoy/stat-prefixes.js';
import type { EnvoyCounters } from '../../../src/sync/envoy/stat-prefixes.js';

const EVERY_STAT = [
  'cluster.eds.version_text: ""',
  'cluster.eds2.version_text: "e2"',
  'cluster_manager.cds.version_text: "c1"',
  'listener_manager.lds.version_text: ""',
  'cluster.dns.update_attempt: 1',
  'cluster.dns.update_failure: 0',
  'cluster.dns.update_success: 1',
  'cluster.eds.update_attempt: 1',
  'cluster.eds.update_failure: 1',
  'cluster.eds.update_rejected: 0',
  'cluster.eds.update_success: 0',
  'cluster.eds2.update_attempt: 1',
  'cluster.eds2.update_failure: 0',
  'cluster.eds2.update_rejected: 0',
  'cluster.eds2.update_success: 1',
  'cluster_manager.cds.update_attempt: 1',
  'cluster_manager.cds.update_failure: 0',
  'cluster_manager.cds.update_rejected: 0',
  'cluster_manager.cds.update_success: 1',
  'listener_manager.lds.update_attempt: 1',
  'listener_manager.lds.update_failure: 0',
  'listener_manager.lds.update_rejected: 1',
  'listener_manager.lds.update_success: 0',
  'server.dynamic_unknown_fields: 1',
];
const USED_ONLY = [
  'cluster.eds2.version_text: "e2"',
  'cluster_manager.cds.version_text: "c1"',
  'cluster.dns.update_attempt: 1',
  'cluster.dns.update_success: 1',
  'cluster.eds.update_attempt: 1',
  'cluster.eds.update_failure: 1',
  'cluster.eds2.update_attempt: 1',
  'cluster.eds2.update_success: 1',
  'cluster_manager.cds.update_attempt: 1',
  'cluster_manager.cds.update_success: 1',
  'listener_manager.lds.update_attempt: 1',
  'listener_manager.lds.update_rejected: 1',
  'server.dynamic_unknown_fields: 1',
];
const without = (lines: string[], scope: string): string => lines.filter((line) => !line.startsWith(`${scope}.`)).join('\n');
const plain = (reading: EnvoyCounters | { unsure: string[] }): unknown => ('unsure' in reading ? reading : { ...reading, subscriptions: Object.fromEntries(reading.subscriptions) });

test('usedonly: a cluster scope with only failures could be an EDS subscription or a DNS cluster: the list of subscriptions tells', () => {
  assert.deepEqual(parseUsedOnlyStats(USED_ONLY.join('\n')), { unsure: ['cluster.eds'] });
  // Envoy's answer to VERSION_TEXTS_PATH lists every version_text, written or not: cluster.eds is a subscription.
  const listed = parseVersionTexts(['cluster.eds.version_text: ""', 'cluster.eds2.version_text: "e2"', 'cluster_manager.cds.version_text: "c1"', 'listener_manager.lds.version_text: ""', ''].join('\n'));
  assert.deepEqual([...listed], ['cluster.eds', 'cluster.eds2', 'cluster_manager.cds', 'listener_manager.lds']);
  assert.deepEqual(plain(parseUsedOnlyStats(USED_ONLY.join('\n'), listed)), plain(parseSubscriptionStats(EVERY_STAT.join('\n'))));
  // Not listed: a DNS cluster's membership counters, left out as every stat leaves them out.
  const dns = [...USED_ONLY, 'cluster.nodns.update_attempt: 3', 'cluster.nodns.update_failure: 3'].join('\n');
  assert.deepEqual(parseUsedOnlyStats(dns), { unsure: ['cluster.eds', 'cluster.nodns'] });
  assert.deepEqual(plain(parseUsedOnlyStats(dns, listed)), plain(parseSubscriptionStats(EVERY_STAT.join('\n'))));
  // Without it, the stats Envoy wrote read as every stat: a listener never taken (no version_text), a DNS cluster left out.
  const used = parseUsedOnlyStats(without(USED_ONLY, 'cluster.eds'));
  assert.deepEqual(plain(used), plain(parseSubscriptionStats(without(EVERY_STAT, 'cluster.eds'))));
  assert.deepEqual(plain(used), {
    subscriptions: {
      'cluster.eds2': { versionText: 'e2', attempt: 1, success: 1, rejected: 0, failure: 0 },
      'cluster_manager.cds': { versionText: 'c1', attempt: 1, success: 1, rejected: 0, failure: 0 },
      'listener_manager.lds': { versionText: '', attempt: 1, success: 0, rejected: 1, failure: 0 },
    },
    unknownFields: 1,
    sslContextUpdates: 0,
  });
});

test('usedonly: which scopes are subscriptions when only the stats Envoy wrote are listed', () => {
  const table: { lines: string[]; want: string[] | { unsure: string[] } }[] = [
    // Nothing written at all: no subscription, no unknown fields.
    { lines: [], want: [] },
    // Refused by a cluster's EDS subscription: update_rejected is a subscription's only.
    { lines: ['cluster.outbound_8080_backend.update_attempt: 1', 'cluster.outbound_8080_backend.update_rejected: 1'], want: ['cluster.outbound_8080_backend'] },
    // A DNS cluster that resolved: no version_text, a success: not an EDS subscription (one that succeeded has a version_text).
    { lines: ['cluster.dns.update_attempt: 4', 'cluster.dns.update_success: 4'], want: [] },
    // A DNS cluster that never resolved reads as an EDS subscription that only failed.
    { lines: ['cluster.dns.update_attempt: 2', 'cluster.dns.update_failure: 2'], want: { unsure: ['cluster.dns'] } },
    // An RDS subscription opened by an edit and refused at once; an SDS secret never loaded; an ECDS one: heads other than a cluster's.
    { lines: ['http.ingress_http.rds.renamed.update_attempt: 1', 'sds.kubernetes_tls.update_attempt: 1', 'sds.kubernetes_tls.update_failure: 1', 'extension_config_discovery.http_filter.f.update_attempt: 1'], want: ['http.ingress_http.rds.renamed', 'sds.kubernetes_tls', 'extension_config_discovery.http_filter.f'] },
    // Not a subscription head: a stat matching the filter elsewhere is no subscription.
    { lines: ['vhost.x.update_attempt: 1'], want: [] },
  ];
  for (const { lines, want } of table) {
    const got = parseUsedOnlyStats(lines.join('\n'));
    assert.deepEqual('unsure' in got ? got : [...got.subscriptions.keys()], want, lines.join(' | '));
  }
});

test("usedonly: an SDS secret's key_rotation_failed reads 0 when Envoy never wrote it, as every stat lists it", () => {
  const used = parseUsedOnlyStats(['sds.tls.version_text: "a"', 'sds.tls.update_attempt: 1', 'sds.tls.update_success: 1'].join('\n'));
  const every = parseSubscriptionStats(['sds.tls.version_text: "a"', 'sds.tls.update_attempt: 1', 'sds.tls.update_success: 1', 'sds.tls.update_rejected: 0', 'sds.tls.update_failure: 0', 'sds.tls.key_rotation_failed: 0'].join('\n'));
  assert.ok(!('unsure' in used));
  assert.deepEqual(used.subscriptions.get('sds.tls'), every.subscriptions.get('sds.tls'));
  assert.equal(used.subscriptions.get('sds.tls')?.keyRotationFailed, 0);
});

test('EnvoyAdmin.counters: an unsure scope asks only for the list of subscriptions; the counters stay those of the first answer (a baseline holds nothing counted after it was asked for)', async () => {
  const asked: string[] = [];
  let rejected = 0;
  const server = createServer((req, res) => {
    asked.push(req.url ?? '');
    if (req.url?.startsWith('/config_dump') === true) res.end('{}');
    else if (req.url === VERSION_TEXTS_PATH) res.end('listener_manager.lds.version_text: "v1"\n');
    else res.end(`listener_manager.lds.version_text: "v1"\nlistener_manager.lds.update_rejected: ${String(rejected++)}\ncluster.nodns.update_attempt: 2\ncluster.nodns.update_failure: 2\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const admin = new EnvoyAdmin({ host: '127.0.0.1', port: (server.address() as AddressInfo).port });
  try {
    const reading = await admin.counters(1000);
    assert.deepEqual(asked.filter((url) => url.startsWith('/stats')), [`/stats?usedonly&filter=${encodeURIComponent('(\\.(version_text|update_attempt|update_success|update_rejected|update_failure|key_rotation_failed|ssl_context_update_by_sds)$)|(^server\\.dynamic_unknown_fields$)')}`, VERSION_TEXTS_PATH]);
    assert.deepEqual([...reading.subscriptions.keys()], ['listener_manager.lds'], 'the DNS cluster is no subscription');
    assert.equal(reading.subscriptions.get('listener_manager.lds')?.rejected, 0, 'counted as the first answer has it');
  } finally {
    admin.close();
    await new Promise((resolve) => server.close(resolve));
  }
});

// The verdict reads Envoy's counters from the stats Envoy wrote (`usedonly`, envoy/admin.ts): on a real
// Envoy 1.40 that must read exactly what the answer with every stat reads, for the shapes where the two
// differ most: a listener refused at start (no version_text written), a DNS cluster (its membership
// counters share the subscription counters' names), an EDS cluster whose file Envoy could not convert
// (only update_failure), a DNS cluster that never resolves (reads alike: the list of subscriptions
// tells them), one it took, an RDS subscription. `status` reads the same way for the scopes it names
// (EnvoyAdmin.subscriptionStats): that too must read what every stat reads for them.
import { strict as assert } from 'node:assert';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EnvoyAdmin } from '../../src/sync/envoy/admin.js';
import { SUBSCRIPTIONS_FILTER, parseSubscriptionStats, parseUsedOnlyStats } from '../../src/sync/envoy/stat-prefixes.js';
import type { EnvoyCounters } from '../../src/sync/envoy/stat-prefixes.js';
import { bootstrapYaml, ldsYaml, rdsYaml, startEnvoy, waitFor } from './envoy.js';

const cluster = (name: string, extra: Record<string, unknown>): unknown => ({ '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name, connect_timeout: '1s', ...extra });
const eds = (dir: string, name: string): unknown => cluster(name, { type: 'EDS', eds_cluster_config: { eds_config: { resource_api_version: 'V3', path_config_source: { path: join(dir, `${name}.yaml`) } } } });
// `resolvers`: a DNS server that never answers (a closed port): each resolution fails (update_failure), as in a Pod
// whose nameserver does not answer; a name the resolver says does not exist counts an update_success instead (measured).
const dnsCluster = (name: string, host: string, resolvers?: unknown[]): unknown => cluster(name, { type: 'STRICT_DNS', ...(resolvers === undefined ? {} : { typed_dns_resolver_config: { name: 'envoy.network.dns_resolver.cares', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig', resolvers } } }), load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: host, port_value: 1 } } } }] }] } });
const assignment = (name: string, port: string): string =>
  `version_info: ${name}-${port}\nresources:\n- "@type": type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment\n  cluster_name: ${name}\n  endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: ${port}}}}}]}]\n`;

function adminGet(adminUrl: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request(`${adminUrl}${path}`, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => { resolve(body); });
    }).on('error', reject).end();
  });
}
const sorted = <T>(map: ReadonlyMap<string, T>): Record<string, T> => Object.fromEntries([...map].sort(([a], [b]) => a.localeCompare(b)));
const plain = (reading: EnvoyCounters): unknown => ({ subscriptions: Object.fromEntries([...reading.subscriptions].sort(([a], [b]) => a.localeCompare(b))), unknownFields: reading.unknownFields, sslContextUpdates: reading.sslContextUpdates });

test('counters read from the stats Envoy wrote equal those read from every stat (real Envoy)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'used-only-'));
  const put = async (name: string, text: string): Promise<void> => {
    await writeFile(join(dir, `.${name}.tmp`), text);
    await rename(join(dir, `.${name}.tmp`), join(dir, name)); // Envoy reloads on a rename onto the name
  };
  // At start: a listener naming an RDS file not there yet (refused), a DNS cluster, an EDS file Envoy cannot convert, one it takes.
  await put('good.yaml', assignment('good', '1'));
  await put('bad.yaml', assignment('bad', '"no-number"'));
  await put('cds.yaml', JSON.stringify({ version_info: 'c1', resources: [dnsCluster('dns', 'localhost'), dnsCluster('nodns', 'backend', [{ socket_address: { address: '127.0.0.1', port_value: 1 } }]), eds(dir, 'good'), eds(dir, 'bad')] }));
  const rds = { name: 'routes', path: join(dir, 'rds.yaml') };
  await put('lds.yaml', ldsYaml({ port: 1, body: '', versionInfo: 'l1', rds }));
  const envoy = await startEnvoy({ bootstrap: { text: bootstrapYaml({ lds: join(dir, 'lds.yaml'), cds: join(dir, 'cds.yaml') }) }, logLevel: 'warn' });
  const admin = new EnvoyAdmin({ host: '127.0.0.1', port: Number(new URL(envoy.adminUrl).port) });
  const every = async (): Promise<EnvoyCounters> => parseSubscriptionStats(await adminGet(envoy.adminUrl, `/stats?filter=${encodeURIComponent(SUBSCRIPTIONS_FILTER)}`));
  const usedOnly = async (): Promise<EnvoyCounters | { unsure: string[] }> => parseUsedOnlyStats(await adminGet(envoy.adminUrl, `/stats?usedonly&filter=${encodeURIComponent(SUBSCRIPTIONS_FILTER)}`));
  // `status`'s read of the scopes it names, against every stat's reading of them.
  const scopes = ['cluster.bad', 'cluster.dns', 'cluster.good', 'cluster.nodns', 'cluster_manager.cds', 'http.listener_0.rds.routes', 'listener_manager.lds'];
  const perPrefix = async (prefixes: readonly string[]): Promise<void> => {
    const all = (await every()).subscriptions;
    const expected = new Map([...all].filter(([prefix]) => prefixes.includes(prefix)));
    assert.deepEqual(sorted(await admin.subscriptionStats(prefixes, 5000)), sorted(expected), `status's read of ${prefixes.join(', ')}`);
  };
  try {
    await waitFor('the listener refused', async () => (((await every()).subscriptions.get('listener_manager.lds')?.rejected ?? 0) > 0 ? true : undefined), { timeoutMs: 20_000 });
    // A DNS cluster that never resolved reads as an EDS subscription that only failed (the example ConfigMap's on a node without that name).
    await waitFor('the unresolvable DNS cluster tried', async () => { const u = await usedOnly(); return 'unsure' in u && u.unsure.includes('cluster.nodns') ? true : undefined; }, { timeoutMs: 20_000 });
    const first = await admin.counters(5000);
    assert.deepEqual(plain(first), plain(await every()));
    assert.deepEqual(await usedOnly(), { unsure: ['cluster.bad', 'cluster.nodns'] }, 'the list of subscriptions tells them');
    assert.equal(first.subscriptions.get('cluster.bad')?.failure, 1);
    assert.equal(first.subscriptions.get('listener_manager.lds')?.versionText, '');
    assert.equal(first.subscriptions.has('cluster.dns'), false);
    await perPrefix(scopes);
    await perPrefix(['cluster.bad']); // unsure alone: the text readouts tell it is one
    await perPrefix(['cluster.nodns', 'cluster.dns']); // no subscription: absent

    // Envoy takes everything: the EDS file fixed, the RDS file there, the listener renamed onto its name once more.
    await put('bad.yaml', assignment('bad', '2'));
    await put('rds.yaml', rdsYaml({ name: 'routes', body: 'r', versionInfo: 'r1' }));
    await put('lds.yaml', ldsYaml({ port: 1, body: '', versionInfo: 'l2', rds }));
    await waitFor('Envoy took the fixed files', async () => {
      const now = await every();
      return now.subscriptions.get('listener_manager.lds')?.versionText === 'l2' && now.subscriptions.get('cluster.bad')?.versionText === 'bad-2' ? true : undefined;
    }, { timeoutMs: 20_000 });
    const second = await admin.counters(5000);
    assert.deepEqual(plain(second), plain(await every()));
    assert.deepEqual(await usedOnly(), { unsure: ['cluster.nodns'] }, 'the EDS subscription took an update: a version_text; the DNS cluster never resolves');
    assert.deepEqual([...second.subscriptions.keys()].sort(), ['cluster.bad', 'cluster.good', 'cluster_manager.cds', 'http.listener_0.rds.routes', 'listener_manager.lds']);
    await perPrefix(scopes);
    assert.equal((await admin.subscriptionStats(['listener_manager.lds'], 5000)).get('listener_manager.lds')?.versionText, 'l2');
  } finally {
    admin.close();
    await envoy.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

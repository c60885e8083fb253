// An extension config (ECDS) naming a cluster that the same ConfigMap change adds to cds.yaml
// (test/fixtures/verdict-cases/10-ecds-names-cluster-of-same-change: an ext_authz filter read
// through `config_discovery` + `path_config_source`, its HTTP authorization service moved to a new
// cluster), through `copy` + `watch` into a real Envoy 1.40. Envoy builds the filter config when it
// applies ecds.yaml and accepts one naming a cluster it lacks; the filter then denies every request
// (403) until the cluster arrives, since ext_authz looks the cluster up per request. So the watcher
// owes: cds.yaml renamed first, ecds.yaml only once Envoy has read it. Judged by Envoy itself: its
// config dump's `last_updated` of the extension config is not before that of the new cluster, and
// requests sent all through the change are never denied.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { waitFor } from '../sync/harness.js';
import type { EnvoyProcess } from './envoy.js';
import { envoyOf, nextVerdict, served, startCase, verdictCounts, waitServed } from './verdict-cases.js';
import type { ConfigMapSpec } from './verdict-cases.js';

const FOLDER = '10-ecds-names-cluster-of-same-change';
const CHANGES = 3;
const spec = (cds: string, ecds: string): ConfigMapSpec => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds.yaml', 'cds.yaml': cds, 'ecds.yaml': ecds });

/** When Envoy applied the extension config `name` and the cluster `cluster` (its config dump's `last_updated`, epoch ms). */
async function appliedAt(envoy: EnvoyProcess, name: string, cluster: string): Promise<{ filter: number; cluster: number }> {
  const dump = async (resource: string) => ((await (await fetch(`${envoy.adminUrl}/config_dump?resource=${resource}`)).json()) as { configs?: Record<string, unknown>[] }).configs ?? [];
  const filter = (await dump('ecds_filters')).find((c) => (c.ecds_filter as { name?: string } | undefined)?.name === name);
  const clusters = [...(await dump('dynamic_active_clusters')), ...(await dump('dynamic_warming_clusters'))];
  const added = clusters.find((c) => (c.cluster as { name?: string } | undefined)?.name === cluster);
  assert.ok(filter && added, `Envoy's config dump has the extension config ${name} and the cluster ${cluster}`);
  return { filter: Date.parse(String(filter.last_updated)), cluster: Date.parse(String(added.last_updated)) };
}

test(`${FOLDER}: ${String(CHANGES)} changes each adding a cluster and pointing an ext_authz extension config at it: cds.yaml renamed first, Envoy applies ecds.yaml after the cluster, no request denied`, { timeout: 300_000 }, async (t) => {
  const pod = await startCase(FOLDER, spec('cds-v0.yaml', 'ecds-v0.yaml'));
  try {
    const envoy = envoyOf(pod);
    const probe = () => served(envoy, pod.ports.P0);
    await waitServed(probe, '200 ok', 'authorized through authz_a');
    const published = () => pod.watcher.logs.filter((line) => line.msg === 'published').map((line) => String(line.file));
    for (let n = 1; n <= CHANGES; n++) {
      const before = verdictCounts(pod, ['cds.yaml', 'ecds.yaml']);
      const from = published().length;
      // Requests all through the change: the filter must never deny one.
      const probing = { on: true };
      const answers: string[] = [];
      const prober = (async () => {
        while (probing.on) answers.push(await probe());
      })();
      try {
        await pod.apply(spec('cds-v1.yaml', 'ecds-v1.yaml'));
        for (const file of ['cds.yaml', 'ecds.yaml']) assert.equal((await nextVerdict(pod, file, before.get(file) ?? 0)).outcome, 'accepted', file);
      } finally {
        probing.on = false;
        await prober;
      }
      await waitFor(() => published().length >= from + 2, `change ${String(n)}: the watcher's published lines`);
      assert.deepEqual(published().slice(from, from + 2), ['cds.yaml', 'ecds.yaml'], `change ${String(n)}: rename order`);
      const at = await appliedAt(envoy, 'authz', 'authz_b');
      t.diagnostic(`change ${String(n)}: Envoy applied the extension config ${String(at.filter - at.cluster)} ms after the cluster; ${String(answers.length)} requests meanwhile`);
      assert.ok(at.filter >= at.cluster, `change ${String(n)}: Envoy applied the extension config (${new Date(at.filter).toISOString()}) before the cluster it names (${new Date(at.cluster).toISOString()})`);
      assert.deepEqual(answers.filter((a) => a !== '200 ok'), [], `change ${String(n)}: requests denied or failed during the change`);
      // Back, in two edits (a removal): the filter off authz_b, then authz_b out of cds.yaml.
      for (const back of [spec('cds-v1.yaml', 'ecds-v0.yaml'), spec('cds-v0.yaml', 'ecds-v0.yaml')]) {
        const counts = verdictCounts(pod, ['cds.yaml', 'ecds.yaml']);
        await pod.apply(back);
        const file = back['cds.yaml'] === 'cds-v0.yaml' ? 'cds.yaml' : 'ecds.yaml';
        assert.equal((await nextVerdict(pod, file, counts.get(file) ?? 0)).outcome, 'accepted', file);
      }
      await waitServed(probe, '200 ok', 'authorized through authz_a again');
    }
  } finally {
    await pod.stop();
  }
});

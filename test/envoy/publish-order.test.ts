// Changes that each add a cluster in cds.yaml and route to it from lds.yaml, through `copy` +
// `watch` into a real Envoy 1.40. An inline route_config is validated against the clusters Envoy
// has (HttpConnectionManager.route_config: validate_clusters defaults to true when the route table
// is inline), so lds.yaml applied before cds.yaml is refused ("unknown cluster").
//
// Renaming cds.yaml first does not make Envoy apply it first: every path_config_source
// subscription has its own inotify descriptor on the directory (FilesystemSubscriptionImpl creates
// a Filesystem::Watcher each, source/extensions/config_subscription/filesystem/
// filesystem_subscription_impl.cc; WatcherImpl in source/common/filesystem/inotify/watcher_impl.cc),
// both see both renames, and when both land before Envoy's main thread wakes, the descriptor it
// reads first decides. Which one that is stays the same for the life of an Envoy process and
// differs between processes (measured here with renames back to back: in about one Envoy process
// of three every change's lds.yaml was applied first, in the others none), so the 20 changes are
// spread over 10 Envoy processes (renames back to back pass all ten by luck about once in 50), and
// each change is made while Envoy's main thread is busy with admin requests, so both renames land
// before it wakes. The watcher owes: cds.yaml renamed first, lds.yaml only once Envoy has read it,
// so Envoy never refuses lds.yaml (its own `listener_manager.lds.update_rejected` stays 0) and
// every change is served.
import { strict as assert } from 'node:assert';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { waitFor } from '../sync/harness.js';
import { TIMEOUT, running, startPod, verdicts } from './pod.js';
import { adminLoad, cdsYaml, ldsYaml } from './mixed-change-files.js';

/** Envoy processes, and changes made with each: 20 changes in all. */
const ENVOYS = 10;
const CHANGES = 2;
/** Concurrent admin requests kept in flight during the changes (each a full `/stats`). */
const LOAD = 2;


test(`${String(ENVOYS * CHANGES)} changes each adding a cluster and routing to it inline, over ${String(ENVOYS)} Envoy processes under admin load: lds.yaml never refused, every change served`, { timeout: 2 * TIMEOUT.timeout }, async (t: TestContext) => {
  const upstream = createServer((_request, response) => response.end('upstream'));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamPort = (upstream.address() as AddressInfo).port;
  try {
    for (let run = 1; run <= ENVOYS; run++) {
      await t.test(`Envoy process ${String(run)}`, async () => {
        await changesOnOneEnvoy(t, upstreamPort);
      });
    }
  } finally {
    await new Promise((resolve) => upstream.close(resolve));
  }
});

async function changesOnOneEnvoy(t: TestContext, upstreamPort: number): Promise<void> {
  const pod = await startPod({
    lds: (port) => ldsYaml(port, 'upstream_0'),
    extra: () => ({ 'cds.yaml': cdsYaml(0, upstreamPort) }),
  });
  try {
    const envoy = running(pod);
    await envoy.waitForBody(pod.port, 'upstream');
    const lds = async () => ({
      attempt: await envoy.stat('listener_manager.lds.update_attempt'),
      rejected: await envoy.stat('listener_manager.lds.update_rejected'),
    });
    const before = await lds();
    const files = (n: number) => ({ 'envoy.yaml': pod.bootstrapText, 'cds.yaml': cdsYaml(n, upstreamPort), 'lds.yaml': ldsYaml(pod.port, `upstream_${String(n)}`) });
    const published = () => pod.watcher.logs.filter((line) => line.msg === 'published').map((line) => String(line.file));
    for (let n = 1; n <= CHANGES; n++) {
      const from = published().length;
      const stopLoad = adminLoad(envoy, LOAD);
      try {
        await pod.writer.write(files(n));
        await waitFor(async () => (await lds()).attempt >= before.attempt + n, `change ${String(n)}: Envoy's LDS update`);
      } finally {
        await stopLoad();
      }
      await waitFor(() => published().length >= from + 2, `change ${String(n)}: the watcher's published lines`);
      assert.deepEqual(published().slice(from, from + 2), ['cds.yaml', 'lds.yaml'], `change ${String(n)}: rename order`);
      // Requests go through the cluster this change added (once the workers run the new listener).
      await waitFor(async () => (await envoy.get(pod.port))?.body === 'upstream' && (await envoy.stat(`cluster.upstream_${String(n)}.upstream_rq_total`)) > 0, `change ${String(n)}: served through upstream_${String(n)}`);
    }
    await waitFor(() => verdicts(pod.watcher.logs, 'lds.yaml').length >= CHANGES + 1, 'every lds.yaml verdict');
    assert.deepEqual(verdicts(pod.watcher.logs, 'lds.yaml').map((line) => line.outcome), Array<string>(CHANGES + 1).fill('accepted'));
    const after = await lds();
    const republished = pod.watcher.logs.filter((line) => line.file === 'lds.yaml' && String(line.msg).includes('publishing it again')).length;
    const waits = pod.watcher.logs.filter((line) => Array.isArray(line.files) && typeof line.waitedMs === 'number').map((line) => `${typeof line.outcome === 'string' ? line.outcome : 'timeout'} ${String(line.waitedMs)} ms`);
    t.diagnostic(`Envoy refused lds.yaml in ${String(after.rejected - before.rejected)} of ${String(CHANGES)} changes; republished ${String(republished)}; waits for cds.yaml: ${waits.join(', ')}`);
    // Envoy's own count: it never applied lds.yaml before the cluster it routes to.
    assert.equal(after.rejected - before.rejected, 0, "Envoy's listener_manager.lds.update_rejected");
    assert.equal(republished, 0, 'no lds.yaml published again');
    assert.equal(after.attempt - before.attempt, CHANGES, 'one LDS update per change');

    // The same lds.yaml without its cluster is refused: the order above is what made it load.
    await pod.writer.write({ ...files(CHANGES), 'lds.yaml': ldsYaml(pod.port, 'upstream_missing') });
    const refused = await pod.watcher.waitForLog((line) => line.event === 'verdict' && line.file === 'lds.yaml' && line.outcome === 'rejected', 'lds.yaml refused');
    assert.match(String(refused.msg), /unknown cluster/);
    assert.equal((await lds()).rejected, after.rejected + 1);
  } finally {
    await pod.stop();
  }
}

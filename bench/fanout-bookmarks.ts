// npm run bench:fanout-bookmarks — when does an idle watch of ours hear from the apiserver? On the
// e2e control plane (etcd + kube-apiserver v1.33, test/e2e/cluster.ts), watches of one quiet
// ConfigMap over HTTP/1.1 with allowWatchBookmarks (the watcher's watch-stream.ts, its parameters),
// through phases of what else the cluster does, printing each BOOKMARK's arrival per watch:
//   quiet:     nothing else writes (the apiserver's own lease renewals move etcd's revision only);
//   other-cm:  another ConfigMap of the cluster written every BENCH_BM_EVERY_S (10) s;
//   lease:     a Lease written as often (etcd's revision moves, no ConfigMap changes);
//   list:      a consistent list of ConfigMaps (no resourceVersion) in another namespace as often.
// Each phase opens fresh watches (resourceVersion = a fresh list's) with timeoutSeconds 600 and
// 90 (the bookmark 2 s before the deadline), and lasts BENCH_BM_PHASE_S (150) s.
// What the apiserver does (k8s.io/apiserver pkg/storage/cacher, v1.33): Cacher.dispatchEvents sends
// a BOOKMARK every second (× 1–1.25) to the watchers whose nextBookmarkTime has come (a minute after
// the last, or 2 s before the deadline), at the cache's last resourceVersion, and
// cacheWatcher.process drops it unless that is newer than the resourceVersion the watch started from.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadavg } from 'node:os';
import * as k8s from '@kubernetes/client-node';
import { startCluster } from '../test/e2e/cluster.js';
import { plain } from '../test/e2e/objects.js';
import { kubeconfigConnection } from '../src/sync/kube/kubeconfig.js';
import { openWatch } from '../src/sync/kube/watch-stream.js';

const NS = 'bench-bookmarks';
const OTHER_NS = 'bench-bookmarks-other';
const PHASE_MS = Number(process.env.BENCH_BM_PHASE_S ?? 150) * 1000;
const EVERY_MS = Number(process.env.BENCH_BM_EVERY_S ?? 10) * 1000;
const PHASES = (process.env.BENCH_BM_PHASES ?? 'quiet,other-cm,lease,list').split(',');
const load = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');

const cluster = await startCluster({ forceLocal: true });
try {
  const core = cluster.core;
  const coord = cluster.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
  for (const name of [NS, OTHER_NS]) await core.createNamespace({ body: plain<k8s.V1Namespace>({ metadata: { name } }) });
  await core.createNamespacedConfigMap({ namespace: NS, body: plain<k8s.V1ConfigMap>({ metadata: { name: 'watched' }, data: { a: '1' } }) });
  await core.createNamespacedConfigMap({ namespace: OTHER_NS, body: plain<k8s.V1ConfigMap>({ metadata: { name: 'other' }, data: { n: '0' } }) });
  await coord.createNamespacedLease({ namespace: OTHER_NS, body: plain<k8s.V1Lease>({ metadata: { name: 'other' }, spec: { holderIdentity: 'x', leaseDurationSeconds: 10 } }) });
  const connection = kubeconfigConnection(cluster.kubeconfigPath, { http2: false });
  const path = `/api/v1/namespaces/${NS}/configmaps`;
  const summary: Record<string, unknown>[] = [];
  for (const phase of PHASES) {
    const list = await connection.request('GET', `${path}?fieldSelector=metadata.name%3Dwatched`);
    const listRv = (list.body as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    const t0 = performance.now();
    const watches = [600, 90].map((timeoutSeconds) => {
      const heard: { at: number; type: string; rv: string }[] = [];
      const stream = openWatch(connection, path, { fieldSelector: 'metadata.name=watched', resourceVersion: listRv, allowWatchBookmarks: true, timeoutSeconds }, (type, object) => {
        heard.push({ at: (performance.now() - t0) / 1000, type, rv: (object as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion ?? '?' });
      });
      let endedAt: number | undefined;
      void stream.ended.then(() => { endedAt = (performance.now() - t0) / 1000; });
      return { timeoutSeconds, heard, stream, endedAt: () => endedAt };
    });
    let n = 0;
    const activity = setInterval(() => {
      n++;
      const act = phase === 'other-cm'
        ? core.patchNamespacedConfigMap({ name: 'other', namespace: OTHER_NS, body: { data: { n: String(n) } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch))
        : phase === 'lease'
          ? coord.patchNamespacedLease({ name: 'other', namespace: OTHER_NS, body: { spec: { holderIdentity: `x${String(n)}` } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch))
          : phase === 'list'
            ? core.listNamespacedConfigMap({ namespace: OTHER_NS })
            : Promise.resolve();
      void act.catch((err: unknown) => { process.stderr.write(`activity failed: ${String(err)}\n`); });
    }, EVERY_MS);
    await sleep(PHASE_MS);
    clearInterval(activity);
    for (const w of watches) {
      w.stream.abort();
      const bookmarks = w.heard.filter((h) => h.type === 'BOOKMARK').map((h) => Math.round(h.at * 10) / 10);
      const gaps = bookmarks.slice(1).map((b, i) => Math.round((b - (bookmarks[i] ?? 0)) * 10) / 10);
      const line = { phase, timeoutSeconds: w.timeoutSeconds, listRv, bookmarksAtS: bookmarks, gapsS: gaps, other: w.heard.filter((h) => h.type !== 'BOOKMARK').length, serverEndedAtS: w.endedAt() === undefined ? null : Math.round((w.endedAt() ?? 0) * 10) / 10, load: load() };
      summary.push(line);
      console.log(JSON.stringify(line));
    }
  }
  connection.close();
  console.log(JSON.stringify({ phases: summary.length, phaseS: PHASE_MS / 1000, everyS: EVERY_MS / 1000 }));
} finally {
  await cluster.stop();
}

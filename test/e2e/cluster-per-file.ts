// The control plane for one test file: started before its tests, stopped after them (node:test
// hooks, so for test files only; benches call startCluster themselves).
import { after, before } from 'node:test';
import { startCluster, type Cluster } from './cluster.js';

/** Registers the file's before/after hooks; `started` gets the cluster once it is up. */
export function clusterPerFile(started: (cluster: Cluster) => void): void {
  let cluster: Cluster | undefined;
  before(async () => {
    cluster = await startCluster();
    started(cluster);
  });
  after(async () => {
    await cluster?.stop();
  });
}

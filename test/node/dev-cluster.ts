// A throwaway cluster to try the install by hand on this machine: the e2e control plane plus the
// real node (containerd + kubelet + kube-scheduler), kept up until Ctrl-C, which tears everything
// down. It prints the kubeconfig to export and the `ctr` address to import images with.
//
//   npm run dev:cluster                       # every image imported, the injector's included
//   npm run dev:cluster -- --without-injector # only pause and Envoy: import the injector yourself
//                                             # (it prints the archive and the ctr command)
//   npm run dev:cluster -- --sync-frequency 5s
//
// Takes the machine-wide node lock like the node tests (one node per machine at a time).
import { parseArgs } from 'node:util';
import { startCluster, type Cluster } from '../e2e/cluster.js';
import { imagesWithout, type ImagesWithout } from './dev-images.js';
import { NODE_CLUSTER_OPTIONS, nodeImages, startNode, type TestNode } from './node.js';

const { values } = parseArgs({
  options: {
    'without-injector': { type: 'boolean', default: false },
    'sync-frequency': { type: 'string', default: '1m' },
  },
});

let withoutInjector: ImagesWithout | undefined;
let cluster: Cluster | undefined;
let node: TestNode | undefined;
let stopping = false;
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    process.stderr.write('[dev-cluster] stopping...\n');
    try {
      await node?.stop();
      await cluster?.stop();
      await withoutInjector?.remove();
    } catch (err) {
      process.stderr.write(`[dev-cluster] stop: ${err instanceof Error ? err.message : String(err)}\n`);
      code = 1;
    }
  }
  process.exit(code);
}

try {
  if (values['without-injector']) {
    withoutInjector = await imagesWithout(await nodeImages(), 'injector');
    process.env.NODE_IMAGES_DIR = withoutInjector.dir;
  }
  cluster = await startCluster(NODE_CLUSTER_OPTIONS);
  node = await startNode(cluster, { syncFrequency: values['sync-frequency'] });
  // The harness's own signal hooks (test/e2e/proc.ts) exit at once, for a test that dies: here the
  // signal is the normal way to stop, so do the whole tear-down (containers, mounts, bridge) first.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeAllListeners(signal);
  process.on('SIGINT', () => void stop(130));
  process.on('SIGTERM', () => void stop(143));
  process.on('SIGHUP', () => void stop(129));
  const ctr = `ctr --address ${node.containerdSocket} -n k8s.io`;
  process.stdout.write(
    [
      `[dev-cluster] ready: node ${node.name} (${node.ip}), images ${Object.values(node.images).join(', ')}`,
      `  export KUBECONFIG=${cluster.kubeconfigPath}`,
      `  ${ctr} images import IMAGE.tar   # this node's containerd`,
      ...(withoutInjector === undefined
        ? []
        : [
          `  the injector's image is not imported; its archive, built from this clone's Dockerfile, is ${withoutInjector.archive}`,
          `  (${withoutInjector.ref}). Import it as README's step 1 says, on this node:`,
          `  ${ctr} images import ${withoutInjector.archive}`,
        ]),
      `  Ctrl-C (or kill -INT ${String(process.pid)}) stops it and removes everything it made.`,
      '',
    ].join('\n'),
  );
  await new Promise(() => undefined);
} catch (err) {
  process.stderr.write(`[dev-cluster] ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await stop(1);
}

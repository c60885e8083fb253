// Capture the AdmissionReview a real kube-apiserver sends a mutating webhook for a Pod CREATE, as
// the benchmark's and tests' realistic input (test/fixtures/admission-review-apiserver.json).
//
//   node --import tsx bench/capture-review.ts [OUT]     (default OUT: test/fixtures/admission-review-apiserver.json)
//
// Starts the e2e control plane (test/e2e/cluster.ts: etcd + kube-apiserver + kube-controller-
// manager v1.33 on 127.0.0.1; the first run builds the binaries) with the controllers running under
// their own ServiceAccounts (--use-service-account-credentials, as kubeadm does), and an in-process
// HTTPS server registered by a MutatingWebhookConfiguration for Pod CREATEs in one namespace. It
// then creates a Deployment whose pod template is the Pod of test/fixtures/admission-review.json
// (3 containers, 25 env vars each, opted in), so the replicaset controller creates the Pod exactly
// as in production: generateName, ownerReferences, ServiceAccount token volume, default
// tolerations, defaulted fields and metadata.managedFields (set before admission on CREATE). The
// first such review's body is written to OUT (2-space JSON); the server answers every review
// `allowed` with no patch. Always tears the cluster down; a watchdog bounds the run.
//
// Env: CAPTURE_TIMEOUT_S (default 300).
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import type { AdmissionRequest, AdmissionReviewRequest } from '../src/admission/index.js';
import { isPodCreate } from '../src/admission/index.js';
import { controlPlaneBinaries, hostIPv4, repoRoot, startCluster } from '../test/e2e/cluster.js';
import { plain } from '../test/e2e/objects.js';
import type { KeyPair } from '../test/e2e/pki.js';
import { waitFor } from '../test/e2e/proc.js';
import { ensureNamespace, webhookClientConfig } from '../test/e2e/webhook.js';

const TIMEOUT_S = Number(process.env.CAPTURE_TIMEOUT_S ?? 300);
const TEMPLATE_FIXTURE = join(repoRoot, 'test', 'fixtures', 'admission-review.json');
const DEFAULT_OUT = join(repoRoot, 'test', 'fixtures', 'admission-review-apiserver.json');
const CAPTURE_NAME = 'admission-capture';
const CAPTURE_PATH = '/capture';
/** Where ServiceAccount admission mounts the token volume it adds (a `kube-api-access-*` volume). */
const TOKEN_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';

interface CaptureServer {
  readonly port: number;
  /** The raw body of the first non-dry-run Pod CREATE review. */
  readonly firstPodCreate: Promise<string>;
  /** Dry-run Pod CREATE reviews seen (the readiness probes). */
  dryRunReviews(): number;
  close(): Promise<void>;
}

/** HTTPS server that answers every review `allowed` (no patch) and keeps the first real Pod CREATE. */
async function startCaptureServer(tls: KeyPair): Promise<CaptureServer> {
  let dryRuns = 0;
  let capture!: (body: string) => void;
  const firstPodCreate = new Promise<string>((r) => (capture = r));
  const server: Server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let request: AdmissionRequest;
      try {
        request = (JSON.parse(body) as AdmissionReviewRequest).request;
      } catch (err) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(`not an AdmissionReview: ${String(err)}\n`);
        return;
      }
      if (isPodCreate(request)) {
        if (request.dryRun === true) dryRuns++;
        else capture(body);
      }
      const answer = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: request.uid, allowed: true } };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  // 0.0.0.0: the apiserver reaches us through the Service's Endpoints (the host IP).
  server.listen(0, '0.0.0.0');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    firstPodCreate,
    dryRunReviews: () => dryRuns,
    close: () => {
      const closed = new Promise<void>((r) => server.close(() => { r(); }));
      server.closeAllConnections(); // the apiserver keeps its connection alive
      return closed;
    },
  };
}

/**
 * The fixture's Pod as a pod template: without what the replicaset controller and admission add
 * themselves (so the apiserver adds the real thing): pod-template-hash, owner, generateName,
 * ServiceAccount token volume and mounts, default tolerations, priority.
 */
function podTemplate(pod: k8s.V1Pod): k8s.V1PodTemplateSpec {
  const { 'pod-template-hash': _hash, ...labels } = pod.metadata?.labels ?? {};
  const spec = structuredClone(pod.spec);
  if (spec === undefined) throw new Error(`${TEMPLATE_FIXTURE}: the Pod has no spec`);
  const tokenVolumes = new Set(
    (spec.volumes ?? []).filter((v) => v.name.startsWith('kube-api-access-')).map((v) => v.name),
  );
  spec.volumes = spec.volumes?.filter((v) => !tokenVolumes.has(v.name));
  for (const c of spec.containers) c.volumeMounts = c.volumeMounts?.filter((m) => !tokenVolumes.has(m.name));
  // DefaultTolerationSeconds adds these two; Priority sets priority and preemptionPolicy.
  spec.tolerations = spec.tolerations?.filter(
    (t) => !(t.tolerationSeconds === 300 && ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'].includes(t.key ?? '')),
  );
  if (spec.tolerations?.length === 0) delete spec.tolerations;
  delete spec.priority;
  delete spec.preemptionPolicy;
  delete spec.serviceAccount; // deprecated alias of serviceAccountName, filled in by the apiserver
  return plain<k8s.V1PodTemplateSpec>({ metadata: { labels, annotations: pod.metadata?.annotations ?? {} }, spec });
}

async function main(): Promise<void> {
  const out = resolve(process.argv[2] ?? DEFAULT_OUT);
  const watchdog = setTimeout(() => {
    process.stderr.write(`capture-review: gave up after ${TIMEOUT_S}s (CAPTURE_TIMEOUT_S)\n`);
    process.exit(1); // the e2e exit hooks kill every child process group and remove the temp dir
  }, TIMEOUT_S * 1000);
  watchdog.unref();

  const templateReview = JSON.parse(await readFile(TEMPLATE_FIXTURE, 'utf8')) as AdmissionReviewRequest;
  const templatePod = templateReview.request.object as k8s.V1Pod;
  const namespace = templatePod.metadata?.namespace ?? 'default';
  const appName = templatePod.metadata?.labels?.app ?? 'app';
  const template = podTemplate(templatePod);

  await controlPlaneBinaries();
  const cluster = await startCluster({
    forceLocal: true,
    // Controllers act as system:serviceaccount:kube-system:<controller>, as in kubeadm clusters:
    // that is the userInfo a webhook really sees for a Deployment's Pods.
    extraControllerManagerArgs: ['--use-service-account-credentials=true'],
  });
  let server: CaptureServer | undefined;
  try {
    const version = (JSON.parse((await cluster.apiGet('/version')).body) as { gitVersion: string }).gitVersion;
    await ensureNamespace(cluster, namespace);
    const serviceAccount = template.spec?.serviceAccountName;
    if (serviceAccount !== undefined && serviceAccount !== 'default') {
      await cluster.core.createNamespacedServiceAccount({ namespace, body: plain<k8s.V1ServiceAccount>({ metadata: { name: serviceAccount } }) });
    }

    const ip = hostIPv4();
    const tls = await cluster.ca.issue(CAPTURE_NAME, {
      commonName: `${CAPTURE_NAME}.${namespace}.svc`,
      dnsNames: [`${CAPTURE_NAME}.${namespace}.svc`, 'localhost'],
      ipAddresses: ['127.0.0.1', ...(ip !== undefined ? [ip] : [])],
      usages: ['server'],
    });
    const capture = await startCaptureServer(tls);
    server = capture;
    await cluster.admissionregistration.createMutatingWebhookConfiguration({
      body: plain<k8s.V1MutatingWebhookConfiguration>({
        metadata: { name: CAPTURE_NAME },
        webhooks: [
          {
            name: `${CAPTURE_NAME}.envoy-xds-injector.io`,
            admissionReviewVersions: ['v1'],
            sideEffects: 'None',
            failurePolicy: 'Fail',
            clientConfig: await webhookClientConfig(cluster, { port: capture.port, caPem: cluster.ca.cert }, { namespace, name: CAPTURE_NAME, path: CAPTURE_PATH }),
            rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
          },
        ],
      }),
    });
    // The configuration reaches the admission chain asynchronously: dry-run Pods until one is reviewed.
    await waitFor('the capture webhook to be called', async () => {
      await cluster.core.createNamespacedPod({
        namespace,
        dryRun: 'All',
        body: plain<k8s.V1Pod>({ metadata: { generateName: 'probe-' }, spec: { containers: [{ name: 'probe', image: 'probe' }] } }),
      });
      return capture.dryRunReviews() > 0 ? true : undefined;
    }, { intervalMs: 200 });

    await cluster.apps.createNamespacedDeployment({
      namespace,
      body: plain<k8s.V1Deployment>({
        metadata: { name: appName, labels: { app: appName } },
        spec: { replicas: 1, selector: { matchLabels: { app: appName } }, template },
      }),
    });
    const raw = await capture.firstPodCreate;
    const review = JSON.parse(raw) as AdmissionReviewRequest;
    await writeFile(out, `${JSON.stringify(review, null, 2)}\n`);

    const pod = review.request.object as k8s.V1Pod;
    const managedFields = pod.metadata?.managedFields;
    const oldBytes = Buffer.byteLength(JSON.stringify(templateReview));
    const newBytes = Buffer.byteLength(JSON.stringify(review));
    const envCounts = (pod.spec?.containers ?? []).map((c) => c.env?.length ?? 0);
    process.stdout.write(
      [
        `capture-review: Pod CREATE review from kube-apiserver ${version} (user ${review.request.userInfo?.username ?? '?'})`,
        `written:        ${out}`,
        `bytes compact:  ${newBytes} (sent: ${Buffer.byteLength(raw)}; hand-written admission-review.json: ${oldBytes})`,
        `managedFields:  ${
          managedFields === undefined
            ? 'ABSENT'
            : `present, ${Buffer.byteLength(JSON.stringify(managedFields))} bytes (${managedFields.map((m) => `${m.manager ?? '?'} ${m.operation ?? '?'}`).join(', ')})`
        }`,
        `containers:     ${envCounts.length}, env vars ${envCounts.join('/')}; initContainers ${pod.spec?.initContainers?.length ?? 0}; volumes ${(pod.spec?.volumes ?? []).map((v) => v.name).join(', ')}`,
        `token mount:    ${pod.spec?.containers.every((c) => c.volumeMounts?.some((m) => m.mountPath === TOKEN_MOUNT_PATH)) === true ? 'in every container' : 'missing'}`,
        '',
      ].join('\n'),
    );
  } finally {
    await server?.close();
    await cluster.stop();
    clearTimeout(watchdog);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`capture-review failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});

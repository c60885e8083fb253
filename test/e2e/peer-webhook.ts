// Another mutating admission webhook next to ours, run by the test process itself: a bare node:https
// server that answers every AdmissionReview `allowed`, with the JSON Patch a test's `mutate` returns
// (none by default), and records each call. The e2e suite uses it as the "other webhook" that changes
// a Pod after ours (reinvocation.test.ts); bench/floor-webhook.ts serves answerReview() as its own
// process for bench:pod-create's floor (the cost of a webhook that does nothing).
//
// Why not agnhost's `webhook` (Kubernetes' own e2e peer): it would add a Go build to .ci/run, and its
// mutations are fixed; here the test chooses the patch per Pod and reads every request it got.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type * as k8s from '@kubernetes/client-node';
import { hostIPv4, type Cluster } from './cluster.js';
import { freePort } from './proc.js';
import { webhookClientConfig } from './webhook.js';

/** One RFC 6902 operation (what an AdmissionResponse's base64 `patch` carries). */
export interface PatchOperation {
  op: 'add' | 'remove' | 'replace';
  path: string;
  value?: unknown;
}

/** One review the peer answered: the Pod as the apiserver sent it, and the patch sent back. */
export interface PeerCall {
  /** metadata.name of the Pod in the review ('' for generateName Pods). */
  pod: string;
  uid: string;
  object: Record<string, unknown>;
  patch: PatchOperation[];
  /** The peer's own time for it, ms: request received to response finished (as fastify's elapsedTime). */
  ms: number;
  /** Of which waiting for the body: request received (headers parsed) to its last byte, ms. */
  bodyMs: number;
}

export interface PeerWebhook {
  readonly port: number;
  /** PEM of the CA that signed its serving certificate (the caBundle). */
  readonly caPem: string;
  /** Every review answered, oldest first. */
  readonly calls: readonly PeerCall[];
  /** Reviews answered for Pod `name`. */
  callsFor(name: string): PeerCall[];
  /**
   * clientConfig reaching it through Service `name` in `namespace` (exposeWebhook: Endpoints on this
   * host), or through a 127.0.0.1 URL when the host has no other IPv4.
   */
  clientConfig(namespace: string, name: string): Promise<k8s.AdmissionregistrationV1WebhookClientConfig>;
  stop(): Promise<void>;
}

export interface PeerOptions {
  /** DNS names for the serving certificate, e.g. `peer.NS.svc` for a Service reference. */
  dnsNames?: string[];
  /** The patch for a Pod (as sent by the apiserver), asked on every call; [] or nothing leaves it unchanged. */
  mutate?: (pod: Record<string, unknown>) => PatchOperation[];
}

/**
 * Answer one AdmissionReview POSTed on `req`: `allowed`, with `mutate`'s patch for its object when
 * not empty; 400 for a body that is not a review. `onCall` gets the call when answered (its `ms`
 * is filled in once the response has finished).
 */
export function answerReview(
  req: IncomingMessage,
  res: ServerResponse,
  mutate: (pod: Record<string, unknown>) => PatchOperation[],
  onCall: (call: PeerCall) => void,
): void {
  const t0 = performance.now();
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const bodyMs = performance.now() - t0;
    try {
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        request: { uid: string; object: Record<string, unknown> };
      };
      const { uid, object } = review.request;
      const patch = mutate(object);
      const metadata = object.metadata as { name?: string } | undefined;
      const call: PeerCall = { pod: metadata?.name ?? '', uid, object, patch, ms: Number.NaN, bodyMs };
      res.once('finish', () => {
        call.ms = performance.now() - t0;
      });
      const response: Record<string, unknown> = { uid, allowed: true };
      if (patch.length > 0) {
        response.patchType = 'JSONPatch';
        response.patch = Buffer.from(JSON.stringify(patch)).toString('base64');
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }));
      onCall(call);
    } catch (err) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`peer webhook: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
}

/** Start the peer on 0.0.0.0 (a free port), with a certificate from `cluster.ca`. */
export async function startPeerWebhook(cluster: Cluster, opts: PeerOptions = {}): Promise<PeerWebhook> {
  const ip = hostIPv4();
  const tls = await cluster.ca.issue(`peer-webhook-${String(Date.now())}`, {
    commonName: opts.dnsNames?.[0] ?? 'peer-webhook',
    dnsNames: ['localhost', ...(opts.dnsNames ?? [])],
    ipAddresses: ['127.0.0.1', ...(ip !== undefined ? [ip] : [])],
    usages: ['server'],
  });
  const calls: PeerCall[] = [];
  const mutate = opts.mutate ?? (() => []);
  const server: Server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    answerReview(req, res, mutate, (call) => calls.push(call));
  });
  const port = await freePort('0.0.0.0');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', resolve);
  });
  const caPem = cluster.ca.cert;
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    caPem,
    calls,
    callsFor: (name) => calls.filter((c) => c.pod === name),
    clientConfig: (namespace, name) => webhookClientConfig(cluster, { port: bound, caPem }, { namespace, name, path: '/mutate' }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => { resolve(); });
      }),
  };
}

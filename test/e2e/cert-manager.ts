// cert-manager's kinds for tests that validate manifests or a chart using them (Issuer, Certificate)
// against an apiserver that may have no cert-manager installed.
import { kubectl, type Cluster } from './cluster.js';

type Json = Record<string, unknown>;

/** Minimal cert-manager.io/v1 CRD: the real kind's names and scope, any spec and status. */
function stubCrd(kind: string, plural: string): Json {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.cert-manager.io` },
    spec: {
      group: 'cert-manager.io',
      scope: 'Namespaced',
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase() },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
              },
            },
          },
        },
      ],
    },
  };
}

/**
 * Makes the cert-manager.io/v1 Issuer and Certificate kinds known to `cluster`: a CRD that already exists (a
 * cluster with cert-manager installed) is kept, so validation runs against the real one; a missing one is created
 * as a stub and waited for until Established (up to 120 s). Each created CRD's `crd/<name>` is pushed onto
 * `created` as soon as it exists, so the caller can delete exactly those even when a later step fails.
 * Throws an Error with kubectl's stderr when a kubectl call fails.
 */
export async function ensureCertManagerCrds(cluster: Pick<Cluster, 'kubeconfigPath'>, created: string[]): Promise<void> {
  const ok = async (args: string[], input?: string): Promise<string> => {
    const res = await kubectl(cluster, args, input === undefined ? {} : { input });
    if (res.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${String(res.code)}: ${res.stderr}`);
    return res.stdout;
  };
  for (const [kind, plural] of [['Issuer', 'issuers'], ['Certificate', 'certificates']] as const) {
    const name = `crd/${plural}.cert-manager.io`;
    if ((await ok(['get', name, '--ignore-not-found', '-o', 'name'])).trim() !== '') continue;
    await ok(['create', '-f', '-'], JSON.stringify(stubCrd(kind, plural)));
    created.push(name);
    await ok(['wait', '--for=condition=Established', '--timeout=120s', name]);
  }
}

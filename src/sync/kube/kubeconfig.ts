// A kubeconfig file's current context as a KubeConnection (tests, local runs; in a Pod the watcher
// uses its ServiceAccount: connection.ts inClusterConnection).
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { connect, type ConnectionOptions, type Credentials, type KubeConnection } from './connection.js';

interface KubeconfigFile {
  'current-context'?: string;
  contexts?: { name: string; context: { cluster: string; user: string; namespace?: string } }[];
  clusters?: { name: string; cluster: Record<string, unknown> }[];
  users?: { name: string; user: Record<string, unknown> }[];
}

/** The namespace of a kubeconfig's current context (kubectl's default namespace), if it sets one. */
export function kubeconfigNamespace(path: string): string | undefined {
  const doc = load(readFileSync(path, 'utf8')) as KubeconfigFile;
  const namespace = doc.contexts?.find((c) => c.name === doc['current-context'])?.context.namespace;
  return typeof namespace === 'string' && namespace !== '' ? namespace : undefined;
}

/**
 * A kubeconfig's current context: server, CA (`certificate-authority[-data]`), and a token
 * (`token`, `tokenFile`) or client certificate (`client-certificate[-data]`, `client-key[-data]`).
 * Exec plugins and auth providers are not supported: the watcher runs with a ServiceAccount token.
 */
export function kubeconfigConnection(path: string, options: ConnectionOptions = {}): KubeConnection {
  const doc = load(readFileSync(path, 'utf8')) as KubeconfigFile;
  const contextName = doc['current-context'];
  const context = doc.contexts?.find((c) => c.name === contextName)?.context;
  const cluster = doc.clusters?.find((c) => c.name === context?.cluster)?.cluster;
  const user = doc.users?.find((u) => u.name === context?.user)?.user ?? {};
  if (context === undefined || cluster === undefined || typeof cluster.server !== 'string') {
    throw new Error(`kubeconfig ${path}: no current context with a cluster server`);
  }
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const fileOrData = (file: unknown, data: unknown): Buffer | undefined => {
    const d = str(data);
    if (d !== undefined) return Buffer.from(d, 'base64');
    const f = str(file);
    return f === undefined ? undefined : readFileSync(f);
  };
  const credentials: Credentials = { server: cluster.server.replace(/\/$/, ''), origin: `kubeconfig ${path}` };
  const ca = fileOrData(cluster['certificate-authority'], cluster['certificate-authority-data']);
  if (ca !== undefined) credentials.ca = ca;
  if (cluster['insecure-skip-tls-verify'] === true) credentials.insecure = true;
  const cert = fileOrData(user['client-certificate'], user['client-certificate-data']);
  const key = fileOrData(user['client-key'], user['client-key-data']);
  if (cert !== undefined && key !== undefined) {
    credentials.cert = cert;
    credentials.key = key;
  }
  const token = str(user.token);
  if (token !== undefined) credentials.token = token;
  const tokenFile = str(user.tokenFile);
  if (tokenFile !== undefined) credentials.tokenFile = tokenFile;
  return connect(credentials, options);
}

// The two install paths side by side: `helm template charts/envoy-xds-injector` and `kubectl
// kustomize manifests/...`, each parsed into objects, and the comparison that tells the
// differences that are Helm conventions (release labels, the ConfigMap's name, the Namespace)
// from real drift.
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { kubectlPath, repoRoot } from '../e2e/cluster.js';
import { run, type RunResult } from '../e2e/proc.js';

export const CHART = join(repoRoot, 'charts', 'envoy-xds-injector');
/** The release name and namespace that make the chart's names equal to the kustomize base's. */
export const RELEASE = 'envoy-xds-injector';
export const NAMESPACE = 'envoy-xds-injector';

export type Json = Record<string, unknown>;

export interface K8sObject extends Json {
  apiVersion: string;
  kind: string;
  metadata: Json & { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
}

let helmBinary: Promise<string> | undefined;

/**
 * Path of the helm binary: $HELM_BIN when set, else built by test/helm/build-helm.sh (once from
 * the Go module proxy, then answered from the cache). Rejects with the script's last error line
 * (e.g. no Go) when it fails.
 */
export function helmPath(): Promise<string> {
  const explicit = process.env.HELM_BIN;
  if (explicit !== undefined && explicit !== '') return Promise.resolve(explicit);
  helmBinary ??= new Promise<string>((resolve, reject) => {
    const script = join(repoRoot, 'test', 'helm', 'build-helm.sh');
    const child = spawn('bash', [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString('utf8');
      process.stderr.write(c); // a cold build takes minutes: show its progress
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const dir = out.trim().split('\n').pop() ?? '';
      if (code === 0 && dir !== '') resolve(join(dir, 'helm'));
      else reject(new Error(`${script} failed (exit ${String(code)}): ${err.trim().split('\n').pop() ?? ''}`));
    });
  });
  return helmBinary;
}

/** Run helm with `args`; `kubeconfig` for commands that talk to a cluster. Never throws on exit != 0. */
export async function helm(args: string[], opts: { kubeconfig?: string; input?: string } = {}): Promise<RunResult> {
  const bin = await helmPath();
  // Private config/cache/data dirs: no repositories or plugins of the caller's helm.
  const home = join(tmpdir(), 'envoy-xds-injector-helm-home');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_DATA_HOME: join(home, 'data'),
  };
  if (opts.kubeconfig !== undefined) env.KUBECONFIG = opts.kubeconfig;
  else delete env.KUBECONFIG;
  return run(bin, args, { cwd: repoRoot, env, ...(opts.input !== undefined ? { input: opts.input } : {}) });
}

/** Objects of a multi-document YAML stream, read as YAML 1.1 like Helm and kubectl do. */
export function parseObjects(text: string, what: string): K8sObject[] {
  return parseAllDocuments(text, { version: '1.1', uniqueKeys: true })
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${what}: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJS() as unknown;
    })
    .filter((o): o is K8sObject => o !== null && typeof o === 'object');
}

/** `--set`-style values as helm arguments (`--set-string` for strings so "true" stays a string). */
export function setArgs(values: Record<string, string | number | boolean | null>): string[] {
  return Object.entries(values).flatMap(([k, v]) => (typeof v === 'string' ? ['--set-string', `${k}=${v}`] : ['--set', `${k}=${String(v)}`]));
}

function isHook(o: K8sObject): boolean {
  return o.metadata.annotations?.['helm.sh/hook'] !== undefined;
}

/**
 * `helm template` of the chart, split like a release: the objects Helm installs, and its hooks
 * (resources Helm creates only at a lifecycle event). Throws with helm's stderr when it fails.
 */
export async function helmRender(
  args: string[] = [],
  opts: { release?: string; namespace?: string } = {},
): Promise<{ objects: K8sObject[]; hooks: K8sObject[] }> {
  const res = await helm(['template', opts.release ?? RELEASE, CHART, '--namespace', opts.namespace ?? NAMESPACE, ...args]);
  if (res.code !== 0) throw new Error(`helm template ${args.join(' ')} failed: ${res.stderr}`);
  const all = parseObjects(res.stdout, 'helm template');
  return { objects: all.filter((o) => !isHook(o)), hooks: all.filter(isHook) };
}

/** The objects `helm template` renders, hooks left out (see helmRender). */
export async function helmTemplate(args: string[] = [], opts: { release?: string; namespace?: string } = {}): Promise<K8sObject[]> {
  return (await helmRender(args, opts)).objects;
}

/** `kubectl kustomize DIR` with the kubectl v1.33 the e2e suite uses; throws on failure. */
export async function kustomize(dir: string): Promise<K8sObject[]> {
  const res = await run(await kubectlPath(), ['kustomize', dir], { cwd: repoRoot });
  if (res.code !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${res.stderr}`);
  return parseObjects(res.stdout, `kubectl kustomize ${dir}`);
}

export function id(o: K8sObject): string {
  return `${o.kind}/${o.metadata.name}`;
}

/** Label keys only Helm sets: the chart's standard release labels. */
const HELM_LABELS = ['helm.sh/chart', 'app.kubernetes.io/managed-by', 'app.kubernetes.io/instance', 'app.kubernetes.io/version'];
/** Labels the chart puts on every object while the base puts them on the selected ones only. */
const COMMON_LABELS = ['app.kubernetes.io/name', 'app.kubernetes.io/component', 'app.kubernetes.io/part-of'];
/** kustomize's configMapGenerator suffix: '-' and a 10-character content hash. */
const HASH_SUFFIX = /-[a-z0-9]{10}$/;

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function walk(value: unknown, visit: (o: Json) => void): void {
  if (Array.isArray(value)) for (const v of value) walk(v, visit);
  else if (isObject(value)) {
    visit(value);
    for (const v of Object.values(value)) walk(v, visit);
  }
}

/** A field whose value differs by nature (a generated key), in objects of `kind`. */
export interface Placeholder {
  kind: string;
  /** Keys from the object's root; `*` for every element of an array. */
  path: string[];
}

/**
 * One side's objects made comparable, keyed by kind/name. What is removed or rewritten is exactly
 * what legitimately differs between the two paths:
 * - the Namespace object (Helm: `--create-namespace`; the release namespace is used everywhere);
 * - Helm's release labels, in metadata and in every selector (`app.kubernetes.io/instance` lets
 *   two releases live side by side); top-level labels are checked separately by `labelDrift`;
 * - the config ConfigMap's name: kustomize appends a content hash, Helm rolls the Deployment with a
 *   `checksum/config` Pod annotation instead;
 * - the config file's text: compared as the parsed YAML (comments differ).
 * `placeholders` replaces values known to differ by nature (generated keys) with a fixed string.
 */
export function comparable(objects: K8sObject[], placeholders: Placeholder[] = []): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const original of objects) {
    if (original.kind === 'Namespace') continue;
    const o = structuredClone(original);
    delete o.metadata.labels;
    if (o.metadata.annotations !== undefined && Object.keys(o.metadata.annotations).length === 0) delete o.metadata.annotations;
    walk(o, (node) => {
      for (const key of HELM_LABELS) Reflect.deleteProperty(node, key);
      // Pod template annotations: Helm's config checksum.
      delete node['checksum/config'];
    });
    walk(o, (node) => {
      if (isObject(node.annotations) && Object.keys(node.annotations).length === 0) delete node.annotations;
    });
    if (o.kind === 'ConfigMap') {
      o.metadata.name = o.metadata.name.replace(HASH_SUFFIX, '');
      const data = o.data as Json;
      for (const [k, v] of Object.entries(data)) data[k] = parseObjects(String(v), `ConfigMap ${k}`)[0] ?? {};
    }
    walk(o, (node) => {
      if (isObject(node.configMap) && typeof node.configMap.name === 'string') {
        node.configMap.name = node.configMap.name.replace(HASH_SUFFIX, '');
      }
    });
    for (const p of placeholders) if (p.kind === o.kind) setPath(o, p.path);
    out.set(`${o.kind}/${o.metadata.name}`, o);
  }
  return out;
}

/** Replace the value at `path` (`*` = every element of an array) with a fixed string. */
function setPath(o: unknown, path: string[]): void {
  const [head, ...rest] = path;
  if (head === undefined || o === null || typeof o !== 'object') return;
  if (head === '*' && Array.isArray(o)) {
    for (const item of o) setPath(item, rest);
    return;
  }
  const node = o as Json;
  if (!(head in node)) return;
  if (rest.length === 0) node[head] = '<differs by nature>';
  else setPath(node[head], rest);
}

/** Every difference between two JSON values, as `path: helm ... / kustomize ...` lines. */
export function diff(helmValue: unknown, kustomizeValue: unknown, path = ''): string[] {
  if (Array.isArray(helmValue) && Array.isArray(kustomizeValue)) {
    const out: string[] = [];
    for (let i = 0; i < Math.max(helmValue.length, kustomizeValue.length); i++) {
      out.push(...diff(helmValue[i], kustomizeValue[i], `${path}[${String(i)}]`));
    }
    return out;
  }
  if (isObject(helmValue) && isObject(kustomizeValue)) {
    const keys = [...new Set([...Object.keys(helmValue), ...Object.keys(kustomizeValue)])].sort();
    return keys.flatMap((k) => diff(helmValue[k], kustomizeValue[k], path === '' ? k : `${path}.${k}`));
  }
  if (JSON.stringify(helmValue) === JSON.stringify(kustomizeValue)) return [];
  return [`${path}: helm ${JSON.stringify(helmValue)} / kustomize ${JSON.stringify(kustomizeValue)}`];
}

/** Differences between the two renderings, one line each ("only in helm: Secret/x", field diffs). */
export function drift(helmObjects: Map<string, Json>, kustomizeObjects: Map<string, Json>): string[] {
  const out: string[] = [];
  for (const key of [...new Set([...helmObjects.keys(), ...kustomizeObjects.keys()])].sort()) {
    const h = helmObjects.get(key);
    const k = kustomizeObjects.get(key);
    if (h === undefined) out.push(`only in kustomize: ${key}`);
    else if (k === undefined) out.push(`only in helm: ${key}`);
    else out.push(...diff(h, k).map((d) => `${key} ${d}`));
  }
  return out;
}

/**
 * Top-level labels: every label kustomize sets is on the chart's object with the same value; the
 * chart may add only Helm's release labels and the base's common labels (which the base puts on
 * the selected objects only).
 */
export function labelDrift(helmObjects: K8sObject[], kustomizeObjects: K8sObject[]): string[] {
  const out: string[] = [];
  const allowed = new Set([...HELM_LABELS, ...COMMON_LABELS]);
  for (const k of kustomizeObjects) {
    if (k.kind === 'Namespace') continue;
    const name = k.kind === 'ConfigMap' ? k.metadata.name.replace(HASH_SUFFIX, '') : k.metadata.name;
    const h = helmObjects.find((o) => o.kind === k.kind && o.metadata.name === name);
    if (h === undefined) continue; // reported by drift()
    const hl = h.metadata.labels ?? {};
    const kl = k.metadata.labels ?? {};
    for (const [key, value] of Object.entries(kl)) {
      if (hl[key] !== value) out.push(`${id(k)} label ${key}: helm ${JSON.stringify(hl[key])} / kustomize ${JSON.stringify(value)}`);
    }
    for (const key of Object.keys(hl)) {
      if (!(key in kl) && !allowed.has(key)) out.push(`${id(k)} label ${key} only in helm`);
    }
  }
  return out;
}

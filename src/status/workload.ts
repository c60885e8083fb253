// `status` for a workload over the Kubernetes API: which Pods (a Deployment's, DaemonSet's,
// StatefulSet's selector, one Pod, or a label selector), the ConfigMap each Pod follows as it is
// now, and each Pod's own view read by a PodReader (exec-reader.ts: the Pod-local `status --json`
// in the watcher container). Judged by rules.ts. The API and the reader are passed in, so tests
// and the benchmark can stand in for either.
import type { V1ConfigMap, V1ContainerStatus, V1LabelSelector, V1Pod } from '@kubernetes/client-node';
import { Annotation } from '../inject/annotations.js';
import { CONFIG_DIR, WATCH_CONTAINER } from '../inject/names.js';
import { validateConfigFile } from '../sync/envoy/gate.js';
import { contentVersion, sha256, stampVersion } from '../sync/envoy/version-stamp.js';
import { copyFailure } from './copy-failure.js';
import { parsePodLocalStatus } from './pod-local.js';
import { countStates, judgePod, workloadState, type PodFacts, type PodJudgement, type PodState, type WantedFile } from './rules.js';

export type TargetKind = 'deployment' | 'daemonset' | 'statefulset' | 'pod' | 'selector';

export interface Target {
  kind: TargetKind;
  /** The object's name, or the label selector for `selector`. */
  name: string;
}

const KINDS: Record<string, TargetKind> = {
  deployment: 'deployment', deployments: 'deployment', deploy: 'deployment', 'deployment.apps': 'deployment', 'deployments.apps': 'deployment',
  daemonset: 'daemonset', daemonsets: 'daemonset', ds: 'daemonset', 'daemonset.apps': 'daemonset', 'daemonsets.apps': 'daemonset',
  statefulset: 'statefulset', statefulsets: 'statefulset', sts: 'statefulset', 'statefulset.apps': 'statefulset', 'statefulsets.apps': 'statefulset',
  pod: 'pod', pods: 'pod', po: 'pod',
};

/** `TYPE/NAME` as kubectl spells it (deployment/x, deploy/x, ds/x, sts/x, pod/x); undefined when not one. */
export function parseTarget(text: string): Target | undefined {
  const slash = text.indexOf('/');
  if (slash <= 0 || slash === text.length - 1) return undefined;
  const kind = KINDS[text.slice(0, slash).toLowerCase()];
  const name = text.slice(slash + 1);
  return kind === undefined || name.includes('/') ? undefined : { kind, name };
}

export function describeTarget(t: Target): string {
  return t.kind === 'selector' ? `Pods -l ${t.name}` : `${t.kind}/${t.name}`;
}

/** A LabelSelector as the `labelSelector` query parameter (matchLabels and matchExpressions). */
export function selectorString(s: V1LabelSelector | undefined): string {
  const parts = Object.entries(s?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of s?.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

/** What `status` reads of the API: read-only calls (RBAC: docs/status.md, `rbac --status-reader`). */
export interface StatusApi {
  /** The workload's spec.selector (deployment, daemonset, statefulset). */
  workloadSelector(kind: 'deployment' | 'daemonset' | 'statefulset', namespace: string, name: string): Promise<V1LabelSelector | undefined>;
  listPods(namespace: string, labelSelector: string): Promise<V1Pod[]>;
  readPod(namespace: string, name: string): Promise<V1Pod>;
  readConfigMap(namespace: string, name: string): Promise<V1ConfigMap>;
}

/** Reads one Pod's own status: the text of `status --json` in `container`, for target directory `dir`. Throws an Error saying why not. */
export type PodReader = (namespace: string, pod: string, container: string, dir: string) => Promise<string>;

export interface ConfigMapNow {
  name: string;
  resourceVersion?: string;
  files?: WantedFile[];
  problem?: string;
}

export interface PodRow extends PodJudgement {
  source: 'volume' | 'api';
  configMap?: string;
  node?: string;
}

export interface WorkloadStatus {
  namespace: string;
  target: string;
  /** The worst Pod state (FAILED > REJECTED > UNKNOWN > PENDING > SYNCED); UNKNOWN when no Pod matched. */
  state: PodState;
  counts: Record<PodState, number>;
  configMaps: ConfigMapNow[];
  pods: PodRow[];
  /** Pods left out: terminating, or finished (Succeeded/Failed). */
  skipped: string[];
}

export interface GatherOptions {
  api: StatusApi;
  read: PodReader;
  namespace: string;
  target: Target;
  /** Pods read at once (default 50). */
  concurrency?: number;
  /** Judgements to keep: a Pod SYNCED for the same ConfigMap resourceVersion is not read again (`--wait`). */
  previous?: WorkloadStatus;
}

/**
 * The files of a ConfigMap (data and binaryData) with the version each gets once `watch` publishes
 * it, and whether the watcher's validation gate (the same code) refuses it.
 */
export async function wantedFiles(cm: V1ConfigMap, bootstrapName?: string): Promise<WantedFile[]> {
  const entries: [string, Buffer][] = [
    ...Object.entries(cm.data ?? {}).map(([k, v]): [string, Buffer] => [k, Buffer.from(v, 'utf8')]),
    ...Object.entries(cm.binaryData ?? {}).map(([k, v]): [string, Buffer] => [k, Buffer.from(v, 'base64')]),
  ];
  const files = await Promise.all(entries.map(async ([file, content]): Promise<WantedFile> => {
    const digest = sha256(content);
    const wanted: WantedFile = { file, version: stampVersion(file, content, digest).version ?? contentVersion(digest) };
    const gate = await validateConfigFile(file, content, bootstrapName);
    if (!gate.ok) {
      const { line, column } = gate.error;
      wanted.invalid = { where: `${file}${line === undefined ? '' : `:${String(line)}${column === undefined ? '' : `:${String(column)}`}`}`, message: gate.error.message };
    }
    return wanted;
  }));
  return files.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

interface InjectedInfo { configMap: string; container: string }

function injectedInfo(pod: V1Pod): InjectedInfo | undefined {
  const annotations = pod.metadata?.annotations ?? {};
  const raw = annotations[Annotation.status];
  if (raw === undefined) return undefined;
  try {
    const s = JSON.parse(raw) as { configmap?: unknown; container?: unknown };
    const configMap = typeof s.configmap === 'string' ? s.configmap : annotations[Annotation.configMap];
    if (configMap === undefined) return undefined;
    return { configMap, container: typeof s.container === 'string' ? s.container : 'envoy' };
  } catch {
    const configMap = annotations[Annotation.configMap];
    return configMap === undefined ? undefined : { configMap, container: 'envoy' };
  }
}

function describeState(s: V1ContainerStatus | undefined): string {
  const st = s?.state;
  if (st?.waiting !== undefined) return `waiting: ${st.waiting.reason ?? ''}${st.waiting.message === undefined ? '' : ` (${st.waiting.message})`}`;
  if (st?.terminated !== undefined) return `terminated: ${st.terminated.reason ?? ''} exit code ${String(st.terminated.exitCode)}`;
  return 'no state yet';
}

/** A flag's value in the watcher container's command line (`--to`, `--bootstrap`), from the Pod spec. */
function watcherFlag(pod: V1Pod, flag: string): string | undefined {
  const c = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((x) => x.name === WATCH_CONTAINER);
  const args = [...(c?.command ?? []), ...(c?.args ?? [])];
  const at = args.indexOf(flag);
  return at >= 0 ? args[at + 1] : undefined;
}

/** Facts about a Pod that the API alone gives; `read` is needed unless `starting`/`unreadable` is set. */
export function podFactsFromApi(pod: V1Pod): Omit<PodFacts, 'wanted' | 'local'> & { info?: InjectedInfo; dir: string; bootstrap?: string } {
  const name = pod.metadata?.name ?? '';
  const source = pod.metadata?.annotations?.[Annotation.source] === 'api' ? 'api' : 'volume';
  const bootstrap = watcherFlag(pod, '--bootstrap');
  const base = { pod: name, source, dir: watcherFlag(pod, '--to') ?? CONFIG_DIR, ...(bootstrap === undefined ? {} : { bootstrap }) } as const;
  const info = injectedInfo(pod);
  if (info === undefined) return { ...base, unreadable: `not injected (no ${Annotation.status} annotation): no watcher to ask` };
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const watcher = statuses.find((s) => s.name === WATCH_CONTAINER);
  const envoy = statuses.find((s) => s.name === info.container);
  const out: ReturnType<typeof podFactsFromApi> = { ...base, info };
  const copyFailed = copyFailure(pod);
  if (copyFailed !== undefined) return { ...out, copyFailed };
  if (watcher?.state?.running === undefined) {
    if ((watcher?.restartCount ?? 0) === 0 && pod.status?.phase === 'Pending') {
      out.starting = `the Pod is starting (${pod.status.phase}; ${WATCH_CONTAINER} ${describeState(watcher)})`;
    } else {
      out.unreadable = `container ${WATCH_CONTAINER} is not running (${describeState(watcher)}, ${String(watcher?.restartCount ?? 0)} restarts)`;
    }
  }
  if (envoy !== undefined && envoy.state?.running === undefined) {
    out.envoyProblem = `Envoy's container ${info.container} is not running (${describeState(envoy)}, ${String(envoy.restartCount)} restarts)`;
  }
  return out;
}

/** Runs `fn` over `items`, at most `limit` at a time; results in order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

function apiProblem(err: unknown): string {
  const e = err as { code?: number; body?: unknown; message?: string };
  if (e.code === 404) return 'not found';
  if (e.code === 403) return `forbidden (${typeof e.body === 'string' ? (JSON.parse(e.body) as { message?: string }).message ?? '' : e.message ?? ''})`;
  return e.message ?? String(err);
}

/** The Pods of `target` in `namespace`. Throws an Error naming the workload when it cannot be read. */
export async function targetPods(api: StatusApi, namespace: string, target: Target): Promise<V1Pod[]> {
  if (target.kind === 'pod') {
    try {
      return [await api.readPod(namespace, target.name)];
    } catch (err) {
      throw new Error(`pod/${target.name} in namespace ${namespace}: ${apiProblem(err)}`, { cause: err });
    }
  }
  if (target.kind === 'selector') return api.listPods(namespace, target.name);
  let selector: V1LabelSelector | undefined;
  try {
    selector = await api.workloadSelector(target.kind, namespace, target.name);
  } catch (err) {
    throw new Error(`${describeTarget(target)} in namespace ${namespace}: ${apiProblem(err)}`, { cause: err });
  }
  const labels = selectorString(selector);
  if (labels === '') throw new Error(`${describeTarget(target)} has an empty selector`);
  return api.listPods(namespace, labels);
}

/** One workload-wide status: list the Pods, then read each ConfigMap once and the Pods (`concurrency` at a time, default 50), judge. */
export async function gatherWorkload(opts: GatherOptions): Promise<WorkloadStatus> {
  const { api, namespace, target } = opts;
  const all = await targetPods(api, namespace, target);
  const skipped: string[] = [];
  const pods = all.filter((p) => {
    const gone = p.metadata?.deletionTimestamp !== undefined ? 'terminating' : p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' ? p.status.phase : undefined;
    if (gone !== undefined) skipped.push(`${p.metadata?.name ?? ''} (${gone})`);
    return gone === undefined;
  }).sort((a, b) => ((a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : 1));

  const facts = pods.map((p) => ({ pod: p, api: podFactsFromApi(p) }));
  const configMapNames = [...new Set(facts.flatMap((f) => (f.api.info === undefined ? [] : [f.api.info.configMap])))].sort();
  // Not awaited yet: without judgements to keep (no --wait round before), the Pods are read while
  // the ConfigMaps are, since a read needs only the Pod.
  const configMapsRead = Promise.all(configMapNames.map(async (name): Promise<ConfigMapNow> => {
    const bootstrap = facts.find((f) => f.api.info?.configMap === name && f.api.bootstrap !== undefined)?.api.bootstrap;
    let cm: V1ConfigMap;
    try {
      cm = await api.readConfigMap(namespace, name);
    } catch (err) {
      return { name, problem: `ConfigMap ${namespace}/${name}: ${apiProblem(err)}` };
    }
    return { name, ...(cm.metadata?.resourceVersion === undefined ? {} : { resourceVersion: cm.metadata.resourceVersion }), files: await wantedFiles(cm, bootstrap) };
  }));
  const byNameRead = configMapsRead.then((cms) => new Map(cms.map((c) => [c.name, c])));
  const previous = new Map((opts.previous?.pods ?? []).map((p) => [p.pod, p]));
  const previousRv = new Map((opts.previous?.configMaps ?? []).map((c) => [c.name, c.resourceVersion]));

  const rows = await mapLimit(facts, opts.concurrency ?? 50, async ({ pod, api: f }): Promise<PodRow> => {
    const before = previous.get(f.pod);
    if (before?.state === 'SYNCED' && f.info !== undefined && f.copyFailed === undefined && f.unreadable === undefined && f.starting === undefined && f.envoyProblem === undefined) {
      const cm = (await byNameRead).get(f.info.configMap);
      if (cm?.resourceVersion !== undefined && previousRv.get(cm.name) === cm.resourceVersion) return before;
    }
    let local: PodFacts['local'];
    let unreadable = f.unreadable;
    if (f.unreadable === undefined && f.starting === undefined && f.copyFailed === undefined) {
      try {
        local = parsePodLocalStatus(await opts.read(namespace, f.pod, WATCH_CONTAINER, f.dir));
      } catch (err) {
        unreadable = (err as Error).message;
      }
    }
    const cm = f.info === undefined ? undefined : (await byNameRead).get(f.info.configMap);
    const wanted = cm === undefined ? { problem: f.unreadable ?? 'no ConfigMap' } : cm.files ?? { problem: cm.problem ?? 'unreadable' };
    return {
      ...judgePod({
        pod: f.pod,
        namespace,
        ...(f.info === undefined ? {} : { configMap: f.info.configMap }),
        source: f.source,
        wanted,
        ...(f.copyFailed === undefined ? {} : { copyFailed: f.copyFailed }),
        ...(f.starting === undefined ? {} : { starting: f.starting }),
        ...(f.envoyProblem === undefined ? {} : { envoyProblem: f.envoyProblem }),
        ...(unreadable === undefined ? {} : { unreadable }),
        ...(local === undefined ? {} : { local }),
      }),
      source: f.source,
      ...(cm === undefined ? {} : { configMap: cm.name }),
      ...(pod.spec?.nodeName === undefined ? {} : { node: pod.spec.nodeName }),
    };
  });
  const configMaps = await configMapsRead;
  return {
    namespace,
    target: describeTarget(target),
    state: workloadState(rows),
    counts: countStates(rows),
    configMaps,
    pods: rows,
    skipped,
  };
}

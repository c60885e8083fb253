// Injection of workload manifests (what the offline `inject` command works on): the pod template
// of each workload kind goes through the same injectPod as Pods at admission.
import type { V1Pod } from '@kubernetes/client-node';
import { Annotation, annotationsOf } from './annotations.js';
import type { InjectorConfig } from './config.js';
import { injectPod } from './inject-pod.js';
import { isObject, type JsonObject } from './json.js';

export type ManifestResult =
  /** Not a workload, not annotated, or already injected: print the document as it was. */
  | { decision: 'unchanged'; reason: string; warnings: string[] }
  | { decision: 'injected'; document: JsonObject; warnings: string[] }
  | { decision: 'denied'; message: string; warnings: string[] };

/** Where each workload kind keeps its pod template, and the API group the kind must come from. */
const WORKLOADS: Record<string, { group: string; template: string[] }> = {
  Pod: { group: '', template: [] },
  Deployment: { group: 'apps', template: ['spec', 'template'] },
  StatefulSet: { group: 'apps', template: ['spec', 'template'] },
  DaemonSet: { group: 'apps', template: ['spec', 'template'] },
  ReplicaSet: { group: 'apps', template: ['spec', 'template'] },
  Job: { group: 'batch', template: ['spec', 'template'] },
  CronJob: { group: 'batch', template: ['spec', 'jobTemplate', 'spec', 'template'] },
};

/** "Deployment/web", for messages. */
export function describeDocument(document: unknown): string {
  const kind = isObject(document) && typeof document.kind === 'string' ? document.kind : 'document';
  const metadata = isObject(document) ? document.metadata : undefined;
  const name = isObject(metadata) && typeof metadata.name === 'string' ? metadata.name : undefined;
  return name === undefined ? kind : `${kind}/${name}`;
}

function workloadOf(document: JsonObject): (typeof WORKLOADS)[string] | undefined {
  const workload = typeof document.kind === 'string' && Object.hasOwn(WORKLOADS, document.kind) ? WORKLOADS[document.kind] : undefined;
  const apiVersion = typeof document.apiVersion === 'string' ? document.apiVersion : '';
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  return workload?.group === group ? workload : undefined;
}

function injectList(list: JsonObject, items: unknown[], config: InjectorConfig): ManifestResult {
  const results = items.map((item) => injectManifest(item, config));
  const where = (i: number): string => `items[${i}] (${describeDocument(items[i])})`;
  const warnings = results.flatMap((result, i) => result.warnings.map((w) => `${where(i)}: ${w}`));
  const denials = results.flatMap((result, i) => (result.decision === 'denied' ? [`${where(i)}: ${result.message}`] : []));
  if (denials.length > 0) return { decision: 'denied', message: denials.join('; '), warnings };
  if (!results.some((result) => result.decision === 'injected')) {
    return { decision: 'unchanged', reason: 'no item was injected', warnings };
  }
  const injected = results.map((result, i) => (result.decision === 'injected' ? result.document : items[i]));
  return { decision: 'injected', document: { ...list, items: injected }, warnings };
}

/** Never throws. `document` is one parsed YAML/JSON document of any kind. */
export function injectManifest(document: unknown, config: InjectorConfig): ManifestResult {
  if (!isObject(document)) return { decision: 'unchanged', reason: 'not an object', warnings: [] };
  if (document.kind === 'List' && Array.isArray(document.items)) {
    return injectList(document, document.items as unknown[], config);
  }
  const workload = workloadOf(document);
  if (workload === undefined) return { decision: 'unchanged', reason: 'not a workload with a pod template', warnings: [] };

  const copy = structuredClone(document);
  let parent: JsonObject = copy;
  const path = workload.template;
  for (const key of path.slice(0, -1)) {
    const next = parent[key];
    if (!isObject(next)) return { decision: 'unchanged', reason: `no ${path.join('.')}`, warnings: [] };
    parent = next;
  }
  const last = path.at(-1);
  const template = last === undefined ? copy : parent[last];

  const warnings: string[] = [];
  if (
    last !== undefined &&
    Object.hasOwn(annotationsOf(document), Annotation.inject) &&
    !Object.hasOwn(annotationsOf(template), Annotation.inject)
  ) {
    warnings.push(
      `annotation ${Annotation.inject} is on the ${String(document.kind)}'s own metadata, where it has no effect: put the annotations on ${path.join('.')}.metadata.annotations`,
    );
  }
  const result = injectPod(template as V1Pod, config);
  warnings.push(...result.warnings);
  switch (result.decision) {
    case 'skipped':
      return { decision: 'unchanged', reason: result.reason, warnings };
    case 'denied':
      return { decision: 'denied', message: result.message, warnings };
    case 'injected':
      if (last === undefined) return { decision: 'injected', document: result.pod as JsonObject, warnings };
      parent[last] = result.pod;
      return { decision: 'injected', document: copy, warnings };
  }
}

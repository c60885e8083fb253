// The last-accepted store in bench:fanout. Before each phase the store holds what the workload's
// earlier Pods left in it: Envoy's acceptance of the ConfigMap's lds.yaml as it is now (a rollout or
// a scale-up: the Pods that start find the content judged). Each watcher of the fleet then records
// its Envoy's first verdict, of that same content, with the watcher's own LastAcceptedWriter
// (src/sync/last-accepted/writer.ts), within 2 s of its start:
//   `ours`:           from the store as `copy` hands it over (src/sync/last-accepted/handoff.ts,
//                     built here from the store's data as the kubelet projects it): the writer finds
//                     the verdict held and sends nothing;
//   `ours-store-get`: without a handoff (copy ran without the store, an older copy, as released
//                     before): the writer's GET of the store, which finds the verdict held (no PUT).
import { LAST_ACCEPTED_RECORD_KEY, LAST_ACCEPTED_SOURCE_ANNOTATION, MANAGED_BY_LABELS, lastAcceptedConfigMapName } from '../src/inject/last-accepted.js';
import { publishable } from '../src/sync/envoy/version-stamp.js';
import type { KubeConnection } from '../src/sync/kube/connection.js';
import { formatRecord } from '../src/sync/last-accepted/changes.js';
import { formatHandoff, storeHandoff, useHandoff } from '../src/sync/last-accepted/handoff.js';
import { parseRecord, type LastAcceptedRecord } from '../src/sync/last-accepted/record.js';
import { LastAcceptedWriter } from '../src/sync/last-accepted/writer.js';
import type { Logger } from 'pino';

const FILE = 'lds.yaml';

/** Envoy's first verdict in a Pod that starts on `data`: lds.yaml accepted, as published (stamped). */
export interface FirstVerdict { file: string; sha256: string; version?: string; content: string }

export function firstVerdict(data: Readonly<Record<string, string>>): FirstVerdict {
  const published = publishable(FILE, Buffer.from(data[FILE] ?? ''));
  return { file: FILE, sha256: published.sha256, ...(published.version === undefined ? {} : { version: published.version }), content: published.content.toString('utf8') };
}

/** The store ConfigMap as a watcher that judged `data` leaves it (writer.ts): labels, annotation, content and record. */
export function storeObject(namespace: string, configMap: string, data: Readonly<Record<string, string>>, pod: string): { metadata: Record<string, unknown>; data: Record<string, string> } {
  const verdict = firstVerdict(data);
  const record: LastAcceptedRecord = { configMap, files: { [FILE]: { accepted: { sha256: verdict.sha256, ...(verdict.version === undefined ? {} : { version: verdict.version }), at: new Date().toISOString(), pod } } } };
  return {
    metadata: { name: lastAcceptedConfigMapName(configMap), namespace, labels: { ...MANAGED_BY_LABELS }, annotations: { [LAST_ACCEPTED_SOURCE_ANNOTATION]: configMap } },
    data: { [FILE]: verdict.content, [LAST_ACCEPTED_RECORD_KEY]: formatRecord(record) },
  };
}

/** What `copy --accepted` hands the watcher after reading the store's volume (`storeData`) at `readAt`. */
export function handoffText(storeData: Readonly<Record<string, string>>, readAt: Date): string {
  const files = new Map(Object.entries(storeData).filter(([k]) => k !== LAST_ACCEPTED_RECORD_KEY).map(([k, v]) => [k, Buffer.from(v)]));
  return formatHandoff(storeHandoff({ record: parseRecord(storeData[LAST_ACCEPTED_RECORD_KEY] ?? ''), files }, '/var/run/envoy-xds-injector/accepted', readAt));
}

/**
 * A watcher's store writer, from `handoff` when given (as watch.ts: only a usable one), recording
 * `verdict` as Envoy's first; close() it with the watcher.
 */
export function recordFirstVerdict(connection: KubeConnection, opts: { namespace: string; configMap: string; pod: string; verdict: FirstVerdict; handoff: string | undefined; logger: Logger }): LastAcceptedWriter {
  const found = opts.handoff === undefined ? undefined : useHandoff(opts.handoff, opts.configMap, new Date());
  if (found !== undefined && !found.use) throw new Error(`bench: the handoff is not usable: ${found.why}`);
  const writer = new LastAcceptedWriter({
    connection, namespace: opts.namespace, configMap: opts.configMap, pod: opts.pod, logger: opts.logger, fixCommand: 'rbac',
    acceptedCopy: () => Promise.resolve(Buffer.from(opts.verdict.content)), storeCheckMs: 0,
    ...(found?.use === true ? { known: found.record } : {}),
  });
  writer.record({ file: opts.verdict.file, outcome: 'accepted', sha256: opts.verdict.sha256, version: opts.verdict.version });
  return writer;
}

// The ConfigMap as the apiserver gives it (the fields the watcher reads), and what the list+watch
// (configmap-watch.ts) hands out: shapes only, shared with the snapshot built from it
// (sources/configmap-snapshot.ts).

/** The fields of a v1 ConfigMap the watcher reads. */
export interface ConfigMapObject {
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string };
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

export type ConfigMapEvent =
  /** The ConfigMap as it now is (list result, ADDED, MODIFIED). */
  | { type: 'object'; configMap: ConfigMapObject }
  /** Deleted (DELETED event) or absent from the list. */
  | { type: 'absent'; resourceVersion: string | undefined };

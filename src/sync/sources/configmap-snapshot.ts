// A ConfigMap object from the API as the same Snapshot a volume read gives: the kubelet writes
// every `data` key as its UTF-8 text and every `binaryData` key base64-decoded (the API's JSON
// encoding of []byte), so both sources yield byte-identical files and identical digests.
import { createHash } from 'node:crypto';
import type { Snapshot } from '../volume/snapshot.js';
import type { ConfigMapObject } from '../kube/configmap-object.js';

export function configMapSnapshot(configMap: ConfigMapObject): Snapshot {
  const files = new Map<string, Buffer>();
  for (const [key, value] of Object.entries(configMap.data ?? {})) files.set(key, Buffer.from(value, 'utf8'));
  for (const [key, value] of Object.entries(configMap.binaryData ?? {})) files.set(key, Buffer.from(value, 'base64'));
  const sorted = new Map([...files].sort(([a], [b]) => (a < b ? -1 : 1)));
  return {
    dataDir: undefined,
    files: sorted,
    skipped: [],
    outside: new Map(),
    api: { resourceVersion: configMap.metadata.resourceVersion, uid: configMap.metadata.uid },
  };
}

/**
 * A digest of a snapshot's content (names and bytes, not where it came from): equal for the same
 * ConfigMap content read from the API or from the kubelet's volume. Hex sha256.
 */
export function contentDigest(snapshot: Pick<Snapshot, 'files'>): string {
  const hash = createHash('sha256');
  for (const name of [...snapshot.files.keys()].sort()) {
    const content = snapshot.files.get(name) ?? Buffer.alloc(0);
    hash.update(`${name}\0${String(content.length)}\0`).update(content);
  }
  return hash.digest('hex');
}

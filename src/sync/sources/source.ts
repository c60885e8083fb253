// Where `watch` reads the ConfigMap from. Every source hands the same Snapshot to the same
// pipeline (gate, one rename per changed file); only how changes are noticed and read differs.
import type { Snapshot } from '../volume/snapshot.js';
import { readSnapshot } from '../volume/snapshot.js';

export type SourceKind = 'volume' | 'api';

export interface SnapshotSource {
  readonly kind: SourceKind;
  /**
   * The snapshot the next pass publishes, or undefined to publish nothing now (the API source
   * holding a version the volume has not caught up with, or a deleted ConfigMap).
   */
  read(): Promise<Snapshot | undefined>;
  /** The pass over `snapshot` finished (files published, unchanged, or rejected by the gate). */
  passed(snapshot: Snapshot): void;
  /** The volume changed (inotify on `..data`). */
  volumeChanged(): void;
  /** Starts noticing changes; `trigger` asks the watcher for a pass. */
  start(trigger: () => void): void;
  stop(): Promise<void>;
}

/** Today's behaviour: the kubelet's ConfigMap volume, read as one consistent `..data` snapshot. */
export class VolumeSource implements SnapshotSource {
  readonly kind = 'volume';
  constructor(private readonly dir: string) {}
  read(): Promise<Snapshot> {
    return readSnapshot(this.dir);
  }
  passed(): void {
    // nothing to remember: the volume is the only truth
  }
  volumeChanged(): void {
    // the watcher's trigger after this reads the volume
  }
  start(): void {
    // inotify is the watcher's
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
}

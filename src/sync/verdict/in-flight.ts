// A refusal that may be caused by a file still arriving, pure. Envoy reads each xDS file through its
// own inotify descriptor (each file subscription creates its own watcher, `WatcherImpl` in
// source/common/filesystem/inotify/watcher_impl.cc, `FilesystemSubscriptionImpl` in
// source/extensions/config_subscription/filesystem/filesystem_subscription_impl.cc), and each
// descriptor wakes on every rename or write in the directory. When several renames land before
// Envoy's main thread runs, it applies the files in the order its descriptors are handled, not in
// the order of the renames: `lds.yaml` can be applied before the `cds.yaml` renamed just before it,
// and a route to a cluster only that `cds.yaml` adds is refused ("route: unknown cluster", measured
// on 1.40). A cluster is known to Envoy from the moment the CDS update that adds it is applied,
// warm or still warming (`ClusterInfoMaps::hasCluster`, envoy/upstream/cluster_manager.h; measured:
// a listener routing to a cluster that is still warming is accepted). So a refusal while other
// published files were still on their way, when Envoy's reason says one of them could change it
// (refusal-cause.ts), is judged once more after they were applied: if one of them was accepted,
// the same content is renamed again and that second answer is the verdict, which also reports the
// first refusal (Envoy counted it). A refusal no other file can change is the verdict at once.
import type { RejectionReason } from '../envoy/rejection-reason.js';
import type { Judgement } from './judge.js';
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';
import type { ClustersGone } from './clusters-gone.js';

/** What a publish needs to know about the files that were on their way with it. */
export interface InFlight {
  /**
   * Other files whose verdict was still pending when this one was published (Envoy may not have
   * applied them yet); at a refusal, narrowed to those that could change it (refusal-cause.ts).
   */
  inFlight: Set<string>;
  /** One of them was accepted since this publish. */
  inFlightAccepted: boolean;
  /** This publish is already the second try: its refusal is the verdict. */
  retried: boolean;
  /** A refusal seen while files of `inFlight` were pending: concluded once they are judged. */
  deferred?: { judgement: Judgement & { outcome: 'rejected' }; counters: EnvoyCounters; own: string[]; now: number; why?: RejectionReason };
  /** An acceptance set aside while a CDS file of `inFlight` waits for its verdict (clusters-gone.ts). */
  acceptedAside?: { judgement: Judgement & { outcome: 'accepted' }; counters: EnvoyCounters; own: string[]; now: number };
  /** CDS files of `inFlight` Envoy refused and the watcher put back, with the clusters that took away (clusters-gone.ts). */
  clustersGone?: ClustersGone[];
}

/** A refusal is set aside (not yet the verdict) when it is the first try and other files were on their way. */
export function defersRefusal(pending: InFlight, judgement: Judgement | undefined): judgement is Judgement & { outcome: 'rejected' } {
  return judgement?.outcome === 'rejected' && !pending.retried && pending.inFlight.size > 0;
}

/**
 * What to do with a set-aside refusal: `wait` while a file it was published with is still being
 * judged (`stillPending`: a file of `inFlight` has a verdict pending that is not itself set aside),
 * `retry` once they are judged and one was accepted, else `conclude` (the refusal stands).
 */
export function afterInFlight(pending: InFlight, stillPending: (file: string) => boolean): 'wait' | 'retry' | 'conclude' {
  if ([...pending.inFlight].some(stillPending)) return 'wait';
  return pending.inFlightAccepted ? 'retry' : 'conclude';
}

// A file of a change that Envoy will never read as the change stands, pure. Envoy reads a file
// named by path_config_source only through a subscription that a resource naming it makes when
// Envoy applies that resource (reference-order.ts: it opens the subscription and reads the file
// then). For scoped routes, the RDS subscription of each scope is made by the SRDS update that
// adds the scope (`ScopedRdsConfigSubscription::addOrUpdateScopes`, source/common/router/
// scoped_rds.cc, Envoy 1.40), and only once `detectUpdateConflictAndCleanupRemoved` found no
// conflict: an srds.yaml refused for two scopes with one key makes no RDS subscription at all. So
// when every file that names a file was applied and refused (what is on disk is the content Envoy
// refused), and no subscription of Envoy reads the file, nothing will read it: a verdict waiting
// for the file's verdict (a refusal set aside while it was on its way, in-flight.ts; an acceptance
// waiting for a CDS file, clusters-gone.ts) would wait for --verdict-timeout for nothing (corpus
// sequence srds-new-scopes-file: lds.yaml moves to scoped routes with an srds.yaml Envoy refuses
// and a new rds.yaml, which no scope reads). A namer Envoy runs or has not applied yet may still
// open one; so may a refused file Envoy applied in part (a CDS or LDS update keeps what it could
// add): a scope then reads the file once that subscription counts its first update, and a wait
// decided before that (not measured) goes on without it. The file's own verdict is not decided here.
import type { Pending } from './pending.js';

/** A file that names the file asked about (SubscriptionMap `namersOf`). */
export interface Namer {
  file: string;
  /**
   * Envoy refused the content of it that is on disk: its refusal is set aside (in-flight.ts), or
   * its verdict refused it and it stayed published (nothing to put back). False for one put back,
   * one Envoy runs, one not judged yet, and Envoy's bootstrap.
   */
  refused: boolean;
}

/**
 * Whether Envoy will never read a file: no stats scope of Envoy reads it (`read`: attribution.ts),
 * it has namers, and Envoy refused every one of them. Unknown namers (none) say nothing: false.
 */
export function neverRead(read: boolean, namers: readonly Namer[]): boolean {
  return !read && namers.length > 0 && namers.every((namer) => namer.refused);
}

/** What the poll loop knows of a file waited for (a pending publish): the rule's facts, IO-free. */
export interface WaitedFor {
  /** Its verdict is still to come from Envoy (pending, neither set aside as refused nor as accepted). */
  pending: boolean;
  /** Stats scopes attributed to it (attribution.ts). */
  scopes: number;
  namers: readonly Namer[];
}

/** Whether a verdict waiting for another file's still waits: that verdict is to come, and Envoy may read the file. */
export function stillToCome(waited: WaitedFor): boolean {
  return waited.pending && !neverRead(waited.scopes > 0, waited.namers);
}

/**
 * The facts of `file` for a verdict of `waiter` that waits for it, from the poll loop's state:
 * `pending` (file → its publish), `scopes` (its stats scopes), `namersOf` (SubscriptionMap), and
 * `refusedOnDisk` (a file no longer pending whose last verdict refused what stays on disk), `queued`
 * (a newer publish of the file handed over but not tracked yet: its pass waits for Envoy's answer).
 * `deferredToo`: a refusal set aside is still to come (an acceptance waits for a CDS file's final word).
 */
export function waitedFor(file: string, waiter: Pending, deferredToo: boolean, of: { pending: ReadonlyMap<string, Pending>; scopes: (file: string) => number; namersOf: (file: string) => readonly string[]; refusedOnDisk: (file: string) => boolean; queued?: (file: string) => boolean }): WaitedFor {
  const other = of.pending.get(file);
  // A newer publish of it waiting for its pass's baseline (baseline-reads.ts) is not pending yet, and its verdict is to come.
  const queued = other === undefined && file !== waiter.file && of.queued?.(file) === true;
  const pending = queued || (other !== undefined && other !== waiter && other.acceptedAside === undefined && (deferredToo || other.deferred === undefined));
  const refused = (namer: string): boolean => {
    const publish = of.pending.get(namer);
    return publish === undefined ? of.refusedOnDisk(namer) : publish.deferred !== undefined;
  };
  return { pending, scopes: pending ? of.scopes(file) : 0, namers: pending ? of.namersOf(file).map((namer) => ({ file: namer, refused: refused(namer) })) : [] };
}

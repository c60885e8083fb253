// Files Envoy read together when it started, pure. A refusal is set aside while another file of its
// change is on its way (in-flight.ts), because Envoy applies the renames of one pass in an order of
// its own. Files that were all on disk before Envoy started were not on their way: Envoy read each
// when it made its subscription, in its own start order (the server's init targets, the LDS API's
// among them, run once every cluster is initialized, CDS's first update included: RunHelper's
// `cm.setInitializedCb` in source/server/server.cc), so a refusal of one for another is Envoy's word on both as they are on
// disk, and renaming it again gets the same answer (fresh-user trial: a new Pod's lds.yaml routing
// to a cluster its cds.yaml lacks was refused, renamed again "while cds.yaml of the same change was
// still on its way", and refused again). Envoy's start is BootstrapConfigDump's `last_updated`
// (envoy-process.ts), set before any subscription reads a file.

/**
 * Whether Envoy read both a refused file and another when it started at `startedAtMs` (epoch ms;
 * undefined: not known, so not said): both were published no later (`refusedAtMs`, `otherAtMs`:
 * their Pending.publishedAtMs, epoch ms; a file found on disk gives its mtime, never after its
 * rename). `otherAtMs` undefined: no publish of it is known. Pure.
 */
export function readAtSameStart(refusedAtMs: number, otherAtMs: number | undefined, startedAtMs: number | undefined): boolean {
  if (startedAtMs === undefined || otherAtMs === undefined) return false;
  return refusedAtMs <= startedAtMs && otherAtMs <= startedAtMs;
}

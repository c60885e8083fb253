// resourceVersions are opaque strings (Kubernetes API concepts); the watcher compares them only to
// drop replays and to tell a stalled watch from a lagging cache, and only when both are decimal
// integers, which is what etcd-backed apiservers give.

/** resourceVersion a is older than b; false when either is not a decimal integer. */
export function olderResourceVersion(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return BigInt(a) < BigInt(b);
}

// Is the watch still delivering? An idle watch sends nothing (measured: no byte in 150 s, BOOKMARKs
// included: the apiserver's watch cache sends a watcher a BOOKMARK at most about once a minute, and
// only when its resourceVersion has moved past the watcher's, i.e. after a write to some ConfigMap
// of the cluster or an etcd progress notification, every 10 min when idle; k8s.io/apiserver
// pkg/storage/cacher: cacheWatcher.process and nextBookmarkTime, Cacher.dispatchEvents; bookmarks
// come with no guarantee), so silence proves nothing, and a connection a middlebox has gone silent on (a dead load
// balancer, a NAT entry that still ACKs) looks exactly like an idle one; TCP keepalive does not see
// it either, since the kernel at the far end is alive. client-go bounds this with HTTP/2 PINGs (30 s
// idle, 15 s to answer: k8s.io/apimachinery/pkg/util/net/http.go) and a client-side timeout equal to
// the watch's timeoutSeconds (client-gen's Watch). Over HTTP/1.1 (a server without HTTP/2, or
// --api-protocol HTTP/1.1) there are no PINGs, so until the watch hears a BOOKMARK (after that the
// BOOKMARKs prove it alive: bookmark-watchdog.ts) the watcher checks: every `--api-check` it lists the ConfigMap by name from the
// apiserver's cache (resourceVersion=0: no etcd read; the `list` the Role already allows) with a
// deadline of `--api-timeout`, and compares its uid and resourceVersion with what the watch
// delivered. The check asks for metadata only (the uid and resourceVersion are all it compares: a
// 1 MiB ConfigMap is not sent again every half minute) and is sent on a connection of its own,
// closed once the period's reads are answered (the last-accepted store's read rides on it when due:
// last-accepted/store-check-timer.ts): over HTTP/1.1 the watch holds its connection, and a second
// one kept open by a request every 30 s doubled the apiserver's connections and most of its memory
// per Pod (bench:fanout; client-go has no second connection: HTTP/2 carries everything on one). A
// new connection per period also never waits on a pooled connection gone silent. No answer means the
// API is unreachable (the watch is closed, the volume guard takes over); an answer newer than the
// watch means the watch missed it (list again). And each watch is ended locally shortly after the
// timeoutSeconds it asked the server for. Pure.
import { METADATA_ONLY_LIST, type RequestOptions } from './connection.js';
import { olderResourceVersion } from './resource-version.js';

/** How the check's list is sent: metadata only (on the period's connection: see above). */
export const CHECK_REQUEST: Readonly<RequestOptions> = { accept: METADATA_ONLY_LIST };

/** The ConfigMap as the check's GET found it, or as the watch last delivered it. */
export interface ObjectState {
  exists: boolean;
  uid?: string | undefined;
  resourceVersion?: string | undefined;
}

export type CheckVerdict =
  /** The watch has delivered what the apiserver's cache holds (or more). */
  | { current: true }
  /** The cache holds a change the watch did not deliver: list again. */
  | { current: false; why: string };

export function judgeCheck(checked: ObjectState, delivered: ObjectState): CheckVerdict {
  if (!checked.exists && !delivered.exists) return { current: true };
  if (checked.exists !== delivered.exists) {
    return { current: false, why: checked.exists ? `the ConfigMap exists (resourceVersion ${checked.resourceVersion ?? '?'}) but the watch last said it does not` : 'the ConfigMap is gone but the watch did not say so' };
  }
  if (checked.uid !== undefined && delivered.uid !== undefined && checked.uid !== delivered.uid) return { current: false, why: `the ConfigMap was re-created (uid ${checked.uid})` };
  if (checked.resourceVersion === delivered.resourceVersion) return { current: true };
  // A cache (another apiserver's) behind the watch is no sign of a stalled watch.
  if (olderResourceVersion(checked.resourceVersion, delivered.resourceVersion)) return { current: true };
  return { current: false, why: `the apiserver has resourceVersion ${checked.resourceVersion ?? '?'}, the watch delivered ${delivered.resourceVersion ?? 'none'}` };
}

/** Watch timeoutSeconds as client-go's reflector asks: minimum × (1 + random), whole seconds. */
export function watchTimeoutSeconds(minimumSeconds: number, random: () => number): number {
  return Math.round(minimumSeconds * (1 + random()));
}

/** The watch is ended locally this long (ms) after the timeoutSeconds it asked for, if the server has not ended it. */
export const WATCH_DEADLINE_GRACE_MS = 30_000;

// Over HTTP/1.1 (no PING), whether an open watch's own traffic tells it alive, or the periodic check
// (watch-check.ts) must. The apiserver's watch cache sends each watch that asked for
// `allowWatchBookmarks` a BOOKMARK about once a minute (and 2 s before its timeoutSeconds), but
// only once the cache's resourceVersion has moved past the one the watch started from (k8s.io/apiserver
// v1.33 pkg/storage/cacher: Cacher.dispatchEvents ticks every 1-1.25 s and pops the watchers whose
// nextBookmarkTime has come, bucketed by the second, each put back a minute on
// (defaultBookmarkFrequency); cacheWatcher.process drops an event not newer than the watch's start
// resourceVersion, BOOKMARKs included). The cache's resourceVersion moves with a write to any
// ConfigMap of the cluster, a consistent list of ConfigMaps (it asks etcd for progress), or
// etcd's progress notification (every 10 min by default). So a watch that has heard one BOOKMARK
// hears the next within about a minute for the rest of its life; a watch that has heard none may
// hear none until it ends (bench/fanout-bookmarks.ts measures both). Hence: until a BOOKMARK comes
// on this watch, the periodic check runs as before; after one, the check is left out and nothing
// heard (no event, no BOOKMARK) for BOOKMARK_EVERY_MS plus the margin means the connection went
// silent. Pure.

/** The apiserver's bookmark period for a watch (k8s.io/apiserver cacher.go defaultBookmarkFrequency). */
export const BOOKMARK_EVERY_MS = 60_000;

/** What one watch has heard, on a monotonic clock (ms). */
export interface Heard {
  /** BOOKMARKs heard on this watch (a new watch starts at 0). */
  bookmarks: number;
  /** When the watch opened, or last delivered anything (an event, a BOOKMARK). */
  lastAt: number;
}

export type Liveness =
  /** No BOOKMARK yet on this watch: nothing promises another; the periodic check runs. */
  | { by: 'check' }
  /** BOOKMARKs come: no check; silent if nothing is heard by `silentAt`. */
  | { by: 'bookmarks'; silentAt: number }
  /** BOOKMARKs came, and nothing for longer than the period plus the margin: the connection went silent. */
  | { by: 'silent'; quietMs: number };

/** How `heard` stands at `now`, with `marginMs` of slack past the bookmark period (the watcher's --api-timeout). */
export function livenessOf(heard: Heard, now: number, marginMs: number, everyMs = BOOKMARK_EVERY_MS): Liveness {
  if (heard.bookmarks === 0) return { by: 'check' };
  const silentAt = heard.lastAt + everyMs + marginMs;
  if (now > silentAt) return { by: 'silent', quietMs: now - heard.lastAt };
  return { by: 'bookmarks', silentAt };
}

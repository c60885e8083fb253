// After a list has succeeded, whether a failure calls for a new list or only for the watch again
// from the last resourceVersion, as client-go's reflector decides (k8s.io/client-go
// tools/cache/reflector.go, watch() and isWatchErrorRetriable; k8s.io/apimachinery
// pkg/watch/streamwatcher.go, receive()):
//   - a watch request refused at the TCP level (ECONNREFUSED: "most likely apiserver is not
//     responsive ... we will be able to restart watch where we ended") or answered 429 Too Many
//     Requests: back off, then watch again from the last resourceVersion; no list;
//   - a watch the apiserver answered and the transport then ended (EOF, a reset, a GOAWAY: the
//     StreamWatcher closes its channel without an error event): watch again at once, unless it
//     lasted under a second with no event (VeryShortWatchError: list);
//   - 410 Gone / Expired (after the backoff: afterWatchEnd), and every other failure (403, 401, 5xx, a timeout, an unreachable host, a
//     connection that went silent): list again, after the backoff.
// A resumed watch delivers only events after that resourceVersion, and the watcher drops any it
// has delivered already (configmap-watch.ts: deliver), so what it publishes only moves forward.
// Pure.

/** A Node error, or one of its causes (`cause` chain), carries `code` ECONNREFUSED. */
export function connectionRefused(err: unknown): boolean {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === 'ECONNREFUSED') return true;
  }
  return false;
}

/**
 * A watch (or the /readyz probe before one) failed with `status` (0: no answer) and error `err`:
 * true when client-go would watch again from the last resourceVersion rather than list.
 */
export function watchResumes(status: number, err: unknown): boolean {
  return status === 429 || (status === 0 && connectionRefused(err));
}

/** How one watch ended (configmap-watch.ts): cleanly (timeoutSeconds, the server going away), 410 Gone, or found behind by the HTTP/1.1 check. */
export type WatchEnd = 'closed' | 'gone' | 'relist';

/**
 * What comes after a watch ended `end`, as client-go's reflector does it (reflector.go): a clean end
 * watches again at once from the last resourceVersion (watch() loops); a 410 Gone / Expired lists
 * again, after the backoff: watch() returns, so ListAndWatch returns, and RunWithContext's
 * delayHandler (the same backoff as after a failure) waits before the next ListAndWatch. So the
 * watchers whose resourceVersion a compaction or a restarted apiserver expired at once do not all
 * list at once. A watch the check found behind lists at once (client-go has no such check).
 */
export function afterWatchEnd(end: WatchEnd): { list: boolean; backoff: boolean } {
  return { list: end !== 'closed', backoff: end === 'gone' };
}

/** client-go's VeryShortWatchError bound: a watch ended within this long with no event was not really open. */
export const VERY_SHORT_WATCH_MS = 1_000;

/**
 * A watch answered 200 was ended by the transport (not by an ERROR event or a status) after
 * `lastedMs` with `events` events; `silent`: ended because the connection went silent (a PING
 * unanswered). True: resume it at once, as a clean end; false: a failure (list again).
 */
export function brokenWatchResumes(lastedMs: number, events: number, silent: boolean): boolean {
  return !silent && (events > 0 || lastedMs >= VERY_SHORT_WATCH_MS);
}

// Is the apiserver ready to serve a list? Asked with `GET /readyz` before every list that follows
// a failure, so that a watcher never lists an apiserver that is still starting; at a watcher's start
// only when its first list is refused the way a starting apiserver refuses (startingRefusal), before
// that refusal is reported: a Pod's start sends what the bare list+watch sends.
//
// A restarted kube-apiserver opens its port before it can authorize: its RBAC authorizer reads
// Roles and RoleBindings through informers, and until they have synced it finds no binding and
// answers 403, with the very body of a missing Role (measured on v1.33: `configmaps "NAME" is
// forbidden: User "system:serviceaccount:NS:SA" cannot list resource "configmaps" ...`; upstream
// never added the "informers not synced" reason proposed in kubernetes/kubernetes#101422). Then,
// for a moment, lists succeed while /readyz still answers 500 (post-start hooks). client-go's
// reflector treats that 403 like any list error: it backs off and lists again, so every watcher
// that arrives early lists twice or more. /readyz is what a load balancer asks; it runs no etcd
// request per call (the etcd checks are rate-limited and cached), and API Priority and Fairness
// exempts it (the `probes` FlowSchema). The default policy lets every authenticated user get it
// (ClusterRole system:public-info-viewer). A 403 on /readyz is therefore "not ready" when this
// watcher has seen /readyz answer 200 or its list succeed before (its authorizer refuses what it
// allowed), and means nothing otherwise: the watcher lists and lets the list's answer speak. In a
// cluster that removed that binding, the first outage after a successful list holds the list for
// the hold's bound (a 403 each probe), then the list succeeds and the watcher stops probing. Pure.

/** What /readyz's answer says. `unknown`: nothing (list, and let the list's answer speak). */
export type Readiness = 'ready' | 'not-ready' | 'unknown';

/**
 * `status`: /readyz's HTTP status; `seen`: /readyz answered 200 to this watcher before, or its
 * list succeeded before (the apiserver authorized it then).
 * 5xx and 429 (a load balancer with no healthy apiserver, a check failing) are not ready.
 */
export function readinessOf(status: number, seen: boolean): Readiness {
  if (status === 200) return 'ready';
  if (status >= 500 || status === 429) return 'not-ready';
  if (status === 403) return seen ? 'not-ready' : 'unknown';
  // 401: the token (the list says so, with its fix); 404 and the rest: not a kube-apiserver's /readyz.
  return 'unknown';
}

/**
 * Whether a list's or a watch's status may be an apiserver still starting rather than its answer:
 * 403 (its authorizer has not synced), 429, 5xx. The first request after a watcher's start is sent
 * without asking /readyz; such a refusal of it asks /readyz before it is reported.
 */
export function startingRefusal(status: number | undefined): boolean {
  return status === 403 || status === 429 || (status ?? 0) >= 500;
}

/**
 * For a log line: the failing checks of a /readyz body (`[-]etcd failed: ...`), else the Status
 * message of a refusal (`message`), else the body's first line.
 */
export function readyzSummary(status: number, text: string, message?: string): string {
  const failing = text.split('\n').filter((line) => line.startsWith('[-]')).map((line) => line.slice(3).trim());
  const detail = failing.length > 0 ? failing.slice(0, 3).join('; ') + (failing.length > 3 ? `; ${String(failing.length - 3)} more` : '') : message ?? text.split('\n')[0]?.slice(0, 200) ?? '';
  return `${String(status)}${detail === '' ? '' : ` ${detail}`}`;
}

export type GateVerdict =
  /** List now; `readiness` is what /readyz said (`not-ready` when the hold has lasted its bound). */
  | { list: true; readiness: Readiness }
  /** Hold the list and probe again later; `first`: the first hold since the last list (say it once). */
  | { list: false; first: boolean };

/**
 * One watcher's use of /readyz. A list is held while the apiserver says it is not ready, but never
 * longer than `holdAtMostMs` in a row (the retry cap: a list held back by readiness never waits
 * longer than a failed list would), so an apiserver whose /readyz stays failing is still tried and
 * its answer reported. Time is passed in (a monotonic clock).
 */
export class ReadinessGate {
  /** /readyz answered 200 to this watcher once. */
  private seen = false;
  /** A list succeeded once: a 403 on /readyz is the authorizer refusing what it allowed. */
  private authorized = false;
  /** The last answer was a 403 that said nothing (`seen` false). */
  private refused = false;
  private probing = true;
  private holdingSince: number | undefined;
  private said = false;

  constructor(private readonly holdAtMostMs: number) {}

  /** Whether to ask /readyz before a list: false once a list succeeded right after a meaningless 403. */
  get active(): boolean {
    return this.probing;
  }

  /** /readyz answered `status` at `now`. */
  answered(status: number, now: number): GateVerdict {
    const readiness = readinessOf(status, this.seen || this.authorized);
    if (status === 200) this.seen = true;
    this.refused = status === 403 && !this.seen;
    if (readiness !== 'not-ready') return { list: true, readiness };
    this.holdingSince ??= now;
    if (now - this.holdingSince >= this.holdAtMostMs) return { list: true, readiness };
    const first = !this.said;
    this.said = true;
    return { list: false, first };
  }

  /** A list succeeded: the hold is over; after a meaningless 403, /readyz is not visible here (stop asking). */
  listed(): void {
    this.authorized = true;
    if (this.refused) this.probing = false;
    this.holdingSince = undefined;
    this.said = false;
  }
}

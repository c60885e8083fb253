// List+watch of ONE ConfigMap through the Kubernetes API, as client-go's reflector does: list
// (fieldSelector metadata.name=NAME, which RBAC `resourceNames` can authorize), watch from the list's
// resourceVersion, resume every watch the server ends from the last resourceVersion seen (events,
// BOOKMARKs); on 410 Gone list again, after the backoff (retry-backoff.ts). On a failure wait, then,
// as the reflector: watch again from the last resourceVersion after a refused connection or a 429,
// list again after anything else (watch-retry.ts). Before the first request after a failure, ask /readyz
// (readiness.ts): a restarted apiserver answers 403 before its authorizer has synced. The first
// request after the start goes without it (each request of a Pod's start is heap the apiserver
// keeps at rest: bench:fanout); a refusal of it that a starting apiserver gives asks /readyz then. A silent
// connection: over HTTP/2 its PINGs bound it (h2-client.ts, as client-go's); over HTTP/1.1 a periodic
// check, or BOOKMARKs once they come (bookmark-watchdog.ts); each watch ends locally after its timeoutSeconds.
import { ApiHttpError as HttpError, apiHttpError as httpError, problemOfError as classify, watchError as wrapWatchError } from './api-problem.js';
import { statusOf } from './connection.js';
import { olderResourceVersion } from './resource-version.js';
import { ReadinessGate, startingRefusal, type Readiness } from './readiness.js';
import { probeReadyz, type ReadyzVerdict } from './readyz-probe.js';
import { DEFAULT_BACKOFF, RetryBackoff, type BackoffPolicy } from './retry-backoff.js';
import { watchTimeoutSeconds, WATCH_DEADLINE_GRACE_MS, type ObjectState } from './watch-health.js';
import type { ConfigMapObject } from './configmap-object.js';
import { DEFAULT_CHECK_TIMEOUT_MS, MIN_WATCH_TIMEOUT_S, type ConfigMapWatchOptions } from './configmap-watch-options.js';
import { openWatch, type WatchStream } from './watch-stream.js';
import { WatchCheck, type Interrupt } from './watch-check.js';
import { afterWatchEnd, brokenWatchResumes, watchResumes, type WatchEnd } from './watch-retry.js';
import { superviseWatch } from './bookmark-watchdog.js';

export type { ConfigMapEvent, ConfigMapObject } from './configmap-object.js';
export { DEFAULT_CHECK_MS, DEFAULT_CHECK_TIMEOUT_MS, type CheckCompanion, type ConfigMapWatchOptions } from './configmap-watch-options.js';

export class ConfigMapWatch {
  private stopped = false;
  private stream: WatchStream | undefined;
  private wake: (() => void) | undefined;
  private resourceVersion: string | undefined;
  /** The newest object resourceVersion delivered, to drop replays after a re-list. */
  private delivered: string | undefined;
  /** What the watch last said of the object, for the check. */
  private state: ObjectState = { exists: false };
  private available = false;
  private running: Promise<void> | undefined;
  private interrupt: Interrupt | undefined;
  private interrupted: (() => void) | undefined;
  private readonly checker: WatchCheck;
  private readonly policy: BackoffPolicy;
  private readonly backoff: RetryBackoff;
  private readonly now: () => number;
  private readonly readiness: ReadinessGate;
  /**
   * Counts, for tests and logs: `probes` of /readyz, `notReady` answers among them; `resumed`:
   * watches opened again from the last resourceVersion after a failure, instead of a list.
   */
  readonly stats = { lists: 0, watches: 0, gone: 0, failures: 0, checks: 0, missed: 0, probes: 0, notReady: 0, resumed: 0, bookmarks: 0, silent: 0 };

  constructor(private readonly options: ConfigMapWatchOptions) {
    this.now = options.now ?? (() => performance.now());
    this.policy = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.backoff = new RetryBackoff(this.policy, options.random ?? Math.random);
    this.readiness = new ReadinessGate(this.policy.maxMs);
    this.checker = new WatchCheck(options, { path: () => this.path, fieldSelector: () => this.fieldSelector, state: () => this.state, stopped: () => this.stopped, now: this.now, stats: this.stats, interrupt: (i) => { this.interruptWatch(i); } });
  }

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stream?.abort();
    this.wake?.();
    this.interrupted?.();
    await this.running;
  }

  /** A method, not the field: the flag changes while the loop awaits. */
  private isStopped(): boolean {
    return this.stopped;
  }

  private get path(): string {
    return `/api/v1/namespaces/${encodeURIComponent(this.options.namespace)}/configmaps`;
  }

  private get fieldSelector(): string {
    return `metadata.name=${this.options.name}`;
  }

  private async loop(): Promise<void> {
    const { logger } = this.options;
    let needList = this.options.resumeFrom === undefined;
    this.resourceVersion = this.options.resumeFrom;
    // Before the first request after a failure: is the apiserver ready? Not before the first one
    // after the start: a refusal of it is checked with /readyz before it is reported (below).
    let probe = false;
    while (!this.stopped) {
      let readiness: Readiness | undefined;
      let stage: 'probe' | 'list' | 'watch' = 'probe';
      try {
        // The caller may have published what a resumed watch's replay would go back on (the volume).
        if (!needList && !this.available && this.options.resumable?.() === false) needList = true;
        if (probe && this.readiness.active) {
          const verdict = await this.probe();
          if (!verdict.list) {
            await this.pause(verdict.retryInMs);
            continue;
          }
          readiness = verdict.readiness;
        }
        if (needList) {
          stage = 'list';
          await this.list();
          needList = false;
        } else if (probe && this.stats.failures > 0) this.stats.resumed++;
        probe = false;
        stage = 'watch';
        const openedAt = this.now();
        const outcome = await this.watchOnce();
        const next = afterWatchEnd(outcome);
        needList = next.list;
        if (outcome === 'gone') this.stats.gone++;
        if (next.backoff && !this.isStopped()) {
          const delay = this.backoff.failure(this.now(), undefined, 'refused');
          logger.info({ resourceVersion: this.resourceVersion, retryInMs: Math.round(delay) }, '410 Gone: resourceVersion too old, listing again after the backoff');
          await this.pause(delay);
        }
        // A server that ends every watch at once must not turn this loop into polling.
        if (outcome === 'closed' && this.now() - openedAt < 1000 && !this.isStopped()) await this.pause(1000);
      } catch (err) {
        if (this.isStopped()) break;
        this.stats.failures++;
        const problem = classify(err);
        // Sent without asking /readyz (the start): a refusal a starting apiserver gives is its own
        // answer only once /readyz says it is ready (or cannot say); else it is a not-ready hold.
        if (stage !== 'probe' && readiness === undefined && !this.available && this.readiness.active && startingRefusal(problem.status)) {
          const verdict = await this.probe().catch(() => undefined);
          if (verdict?.list === false) {
            needList ||= this.resourceVersion === undefined || !watchResumes(problem.status ?? 0, err);
            probe = true;
            await this.pause(verdict.retryInMs);
            continue;
          }
          readiness = verdict?.readiness;
        }
        this.available = false;
        this.options.onAvailability(false, problem);
        // Down: no answer, or a server error not preceded by a ready /readyz (retry-backoff.ts).
        const down = problem.kind === 'unreachable' || ((problem.status ?? 0) >= 500 && readiness !== 'ready');
        const delay = this.backoff.failure(this.now(), problem.retryAfterMs, down ? 'down' : 'refused');
        // A probe's failure decides nothing; a watch's or a list's does (watch-retry.ts).
        if (stage !== 'probe') needList ||= this.resourceVersion === undefined || !watchResumes(problem.status ?? 0, err);
        probe = true;
        logger.debug({ problem, retryInMs: Math.round(delay), then: needList ? 'list' : 'watch' }, 'API list/watch failed');
        await this.pause(delay);
      }
    }
  }

  /** A list answered, or a watch open: the API is usable again. */
  private usable(): void {
    this.backoff.usable(this.now());
    this.readiness.listed();
    if (!this.available) {
      this.available = true;
      this.options.onAvailability(true);
    }
  }

  private async pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
  }

  /** GET /readyz before a list (readyz-probe.ts). */
  private async probe(): Promise<ReadyzVerdict> {
    this.stats.probes++;
    const verdict = await probeReadyz({
      connection: this.options.connection, timeoutMs: this.options.checkTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS,
      gate: this.readiness, backoff: this.backoff, now: this.now, logger: this.options.logger, holdAtMostMs: this.policy.maxMs,
    });
    if (!verdict.list) this.stats.notReady++;
    return verdict;
  }

  private async list(): Promise<void> {
    this.stats.lists++;
    const sentAt = this.now();
    const query = new URLSearchParams({ fieldSelector: this.fieldSelector });
    const res = await this.options.connection.request('GET', `${this.path}?${query.toString()}`);
    if (res.status !== 200) throw httpError('list', res);
    const list = res.body as { metadata?: { resourceVersion?: string }; items?: ConfigMapObject[] };
    this.resourceVersion = list.metadata?.resourceVersion;
    this.usable();
    const item = list.items?.find((cm) => cm.metadata.name === this.options.name);
    if (item === undefined) this.absent(this.resourceVersion);
    else this.deliver(item, true);
    this.options.onConfirmed?.(sentAt);
  }

  private deliver(configMap: ConfigMapObject, fromList: boolean): void {
    const rv = configMap.metadata.resourceVersion;
    // A re-list or a resumed watch may replay what was already delivered; a list is authoritative.
    if (!fromList && (rv === this.delivered || olderResourceVersion(rv, this.delivered))) return;
    this.delivered = rv;
    this.state = { exists: true, uid: configMap.metadata.uid, resourceVersion: rv };
    this.options.onEvent({ type: 'object', configMap });
  }

  private absent(resourceVersion: string | undefined): void {
    this.state = { exists: false };
    this.options.onEvent({ type: 'absent', resourceVersion });
  }

  /** A method, not the field: a check sets it while the watch is awaited. */
  private takeInterrupt(): Interrupt | undefined {
    const interrupt = this.interrupt;
    this.interrupt = undefined;
    return interrupt;
  }

  private interruptWatch(interrupt: Interrupt): void {
    if (this.interrupt !== undefined) return;
    this.interrupt = interrupt;
    if ('failure' in interrupt && interrupt.failure.status === 0) this.options.connection.resetConnections?.();
    this.stream?.abort();
    this.interrupted?.();
  }

  /** One watch connection; resolves 'closed' when it ended, 'gone' on 410, 'relist' when a check found it behind. */
  private async watchOnce(): Promise<WatchEnd> {
    this.stats.watches++;
    this.interrupt = undefined;
    // Set from the watch's callbacks.
    const seen: { gone: boolean; failure: unknown; openedAt?: number; events: number } = { gone: false, failure: undefined, events: 0 };
    const timeoutSeconds = watchTimeoutSeconds(this.options.minWatchTimeoutS ?? MIN_WATCH_TIMEOUT_S, Math.random);
    const params = { fieldSelector: this.fieldSelector, resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds };
    // Over HTTP/2 the connection's PINGs tell a silent connection from an idle watch; over HTTP/1.1
    // the check does until BOOKMARKs come, then they do (bookmark-watchdog.ts).
    const liveness = superviseWatch({ ...this.options, pings: this.options.connection.pings?.() === true, now: this.now, stats: this.stats,
      check: () => { void this.checker.check().catch((err: unknown) => { this.options.logger.error({ err }, 'the watch check failed'); }); },
      silent: (message) => { this.interruptWatch({ failure: new HttpError('watch', 0, message) }); } });
    const stream = openWatch(this.options.connection, this.path, params, (type, object) => {
      const meta = (object as { metadata?: { resourceVersion?: string } } | undefined)?.metadata;
      if (type === 'ERROR') {
        const status = statusOf(object);
        if (status.code === 410) seen.gone = true;
        else seen.failure = new HttpError('watch', status.code ?? 0, status.message ?? 'watch error');
        stream.abort();
        return;
      }
      seen.events++;
      liveness.heard(type);
      if (meta?.resourceVersion !== undefined) this.resourceVersion = meta.resourceVersion;
      if (type === 'ADDED' || type === 'MODIFIED') this.deliver(object as ConfigMapObject, false);
      else if (type === 'DELETED') {
        this.delivered = meta?.resourceVersion;
        this.absent(meta?.resourceVersion);
      }
      // BOOKMARK: only the resourceVersion, taken above.
    }, () => {
      seen.openedAt = this.now();
      liveness.heard();
      this.usable();
    });
    this.stream = stream;
    if (this.isStopped()) stream.abort();
    const ended = stream.ended.then((err) => {
      if (err !== undefined && seen.failure === undefined && !seen.gone) seen.failure = err;
    });
    // client-go's typed Watch ends the request on the client side at timeoutSeconds too.
    const deadline = setTimeout(() => { stream.abort(); }, timeoutSeconds * 1000 + WATCH_DEADLINE_GRACE_MS);
    // The watch may hang before its controller exists (a silent connection before the headers).
    await Promise.race([ended, new Promise<void>((resolve) => { this.interrupted = resolve; })]);
    clearTimeout(deadline);
    liveness.stop();
    this.interrupted = undefined;
    stream.abort();
    this.stream = undefined;
    const interrupt = this.takeInterrupt();
    if (interrupt !== undefined && !this.isStopped()) {
      if ('failure' in interrupt) throw interrupt.failure;
      return 'relist';
    }
    const { gone, failure } = seen;
    if (gone || (failure as { statusCode?: number } | undefined)?.statusCode === 410) return 'gone';
    if (failure !== undefined && !this.isStopped()) {
      if ((failure as { name?: string }).name === 'AbortError') return 'closed';
      if (failure instanceof HttpError) throw failure;
      // Answered, then ended by the transport (the apiserver going away): resumed, as a clean end.
      const silent = (failure as { name?: string }).name === 'SilentConnectionError';
      const transport = typeof (failure as { statusCode?: unknown }).statusCode !== 'number';
      if (transport && seen.openedAt !== undefined && brokenWatchResumes(this.now() - seen.openedAt, seen.events, silent)) return 'closed';
      throw wrapWatchError(failure);
    }
    return 'closed';
  }
}

// List+watch of ONE ConfigMap through the Kubernetes API, as client-go's reflector does: list
// (fieldSelector metadata.name=NAME, which RBAC `resourceNames` can authorize), watch from the list's
// resourceVersion, resume every watch the server ends from the last resourceVersion seen (events,
// BOOKMARKs); on 410 Gone list again; on a failure (unreachable, forbidden, throttled, connection
// lost) wait (retry-backoff.ts), then list again, first asking /readyz (readiness.ts): a restarted
// apiserver answers 403 before its authorizer has synced, and a list then is wasted. A silent
// connection: over HTTP/2 its PINGs bound it (h2-client.ts, as client-go's); over HTTP/1.1 (client-node's
// Watch) a periodic check (watch-health.ts), and each watch ends locally after its timeoutSeconds.
import { ApiHttpError as HttpError, apiHttpError as httpError, problemOfError as classify, watchError as wrapWatchError } from './api-problem.js';
import { sessionOf, statusOf, type KubeSession } from './connection.js';
import { olderResourceVersion } from './resource-version.js';
import { ReadinessGate, type Readiness } from './readiness.js';
import { probeReadyz, type ReadyzVerdict } from './readyz-probe.js';
import { DEFAULT_BACKOFF, RetryBackoff, type BackoffPolicy } from './retry-backoff.js';
import { CHECK_REQUEST, judgeCheck, watchTimeoutSeconds, WATCH_DEADLINE_GRACE_MS, type ObjectState } from './watch-health.js';
import type { ConfigMapObject } from './configmap-object.js';
import { DEFAULT_CHECK_MS, DEFAULT_CHECK_TIMEOUT_MS, MIN_WATCH_TIMEOUT_S, type ConfigMapWatchOptions } from './configmap-watch-options.js';
import { openWatch, type WatchStream } from './watch-stream.js';
import { scheduleChecks } from './check-schedule.js';

export type { ConfigMapEvent, ConfigMapObject } from './configmap-object.js';
export { DEFAULT_CHECK_MS, DEFAULT_CHECK_TIMEOUT_MS, type CheckCompanion, type ConfigMapWatchOptions } from './configmap-watch-options.js';

type Interrupt = { relist: string } | { failure: HttpError };

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
  private checking = false;
  private readonly policy: BackoffPolicy;
  private readonly backoff: RetryBackoff;
  private readonly now: () => number;
  private readonly readiness: ReadinessGate;
  /** Counts, for tests and logs: `probes` of /readyz, `notReady` answers among them. */
  readonly stats = { lists: 0, watches: 0, gone: 0, failures: 0, checks: 0, missed: 0, probes: 0, notReady: 0 };

  constructor(private readonly options: ConfigMapWatchOptions) {
    this.now = options.now ?? (() => performance.now());
    this.policy = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.backoff = new RetryBackoff(this.policy, options.random ?? Math.random);
    this.readiness = new ReadinessGate(this.policy.maxMs);
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
    // Before the first list, and before each list after a failure: is the apiserver ready?
    let probe = true;
    while (!this.stopped) {
      let readiness: Readiness | undefined;
      try {
        if (needList) {
          if (probe && this.readiness.active) {
            const verdict = await this.probe();
            if (!verdict.list) {
              await this.pause(verdict.retryInMs);
              continue;
            }
            readiness = verdict.readiness;
          }
          await this.list();
          needList = false;
          probe = false;
        }
        const openedAt = this.now();
        const outcome = await this.watchOnce();
        if (outcome === 'gone') {
          this.stats.gone++;
          logger.info({ resourceVersion: this.resourceVersion }, '410 Gone: resourceVersion too old, listing again');
        }
        needList = outcome !== 'closed';
        // A server that ends every watch at once must not turn this loop into polling.
        if (outcome === 'closed' && this.now() - openedAt < 1000 && !this.isStopped()) await this.pause(1000);
      } catch (err) {
        if (this.isStopped()) break;
        this.stats.failures++;
        const problem = classify(err);
        this.available = false;
        this.options.onAvailability(false, problem);
        // Down: no answer, or a server error not preceded by a ready /readyz (retry-backoff.ts).
        const down = problem.kind === 'unreachable' || ((problem.status ?? 0) >= 500 && readiness !== 'ready');
        const delay = this.backoff.failure(this.now(), problem.retryAfterMs, down ? 'down' : 'refused');
        // Resume with a list, not a watch from the old resourceVersion: a list is a consistent
        // read, so what is published first after an outage is the current object, never an older
        // cached one while the watch catches up.
        needList = true;
        probe = true;
        logger.debug({ problem, retryInMs: Math.round(delay) }, 'API list/watch failed');
        await this.pause(delay);
      }
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
    this.backoff.usable(this.now());
    this.readiness.listed();
    if (!this.available) {
      this.available = true;
      this.options.onAvailability(true);
    }
    const item = list.items?.find((cm) => cm.metadata.name === this.options.name);
    if (item === undefined) this.absent(this.resourceVersion);
    else this.deliver(item, true);
    this.options.onConfirmed?.(sentAt);
  }

  private deliver(configMap: ConfigMapObject, fromList: boolean): void {
    const rv = configMap.metadata.resourceVersion;
    // After a re-list the apiserver may replay what was already delivered; a list is authoritative.
    if (!fromList && (rv === this.delivered || olderResourceVersion(rv, this.delivered))) return;
    this.delivered = rv;
    this.state = { exists: true, uid: configMap.metadata.uid, resourceVersion: rv };
    this.options.onEvent({ type: 'object', configMap });
  }

  private absent(resourceVersion: string | undefined): void {
    this.state = { exists: false };
    this.options.onEvent({ type: 'absent', resourceVersion });
  }

  /** One check (watch-health.ts: CHECK_REQUEST) on a connection of its own, which the companion's read shares when due. */
  private async check(): Promise<void> {
    if (this.checking || this.stopped) return;
    this.checking = true;
    this.stats.checks++;
    const rides = this.options.companion?.rideAlong(this.options.checkMs ?? DEFAULT_CHECK_MS) === true;
    const session = sessionOf(this.options.connection);
    try {
      if (await this.checkOn(session) && rides) await this.options.companion?.read(session);
    } finally {
      session.end();
      this.checking = false;
    }
  }

  /** The check's request on `session` and what its answer calls for; false when unanswered (the session's connection is gone). */
  private async checkOn(session: KubeSession): Promise<boolean> {
    const sentAt = this.now();
    const query = new URLSearchParams({ fieldSelector: this.fieldSelector, resourceVersion: '0' });
    const res = await session.request('GET', `${this.path}?${query.toString()}`, undefined, undefined, this.options.checkTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS, CHECK_REQUEST).catch((err: unknown) => {
      // No answer: the apiserver, or the path to it, is silent. The pooled connections may be too.
      this.interruptWatch({ failure: new HttpError('check', 0, (err as Error).message) });
    });
    if (res === undefined) return false;
    // An answer, even a refusal, means the API is not silent, and an open watch keeps delivering after a
    // Role or token change (authorized when it started): it goes on; the caller says the refusal.
    if (res.status !== 200) {
      this.options.logger.debug({ status: res.status, body: res.text.slice(0, 300) }, 'watch check refused; the watch goes on');
      this.options.onCheck?.(classify(httpError('check', res)));
      return true;
    }
    this.options.onCheck?.(undefined);
    const item = (res.body as { items?: ConfigMapObject[] }).items?.find((cm) => cm.metadata.name === this.options.name);
    const verdict = judgeCheck(item === undefined ? { exists: false } : { exists: true, uid: item.metadata.uid, resourceVersion: item.metadata.resourceVersion }, this.state);
    if (verdict.current) {
      this.options.onConfirmed?.(sentAt);
      return true;
    }
    this.stats.missed++;
    this.options.logger.info({ why: verdict.why }, 'the watch missed a change (a silent connection?): listing again');
    this.interruptWatch({ relist: verdict.why });
    return true;
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
  private async watchOnce(): Promise<'closed' | 'gone' | 'relist'> {
    this.stats.watches++;
    this.interrupt = undefined;
    // Set from the watch's callbacks.
    const seen: { gone: boolean; failure: unknown } = { gone: false, failure: undefined };
    const timeoutSeconds = watchTimeoutSeconds(this.options.minWatchTimeoutS ?? MIN_WATCH_TIMEOUT_S, Math.random);
    const params = { fieldSelector: this.fieldSelector, resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds };
    const stream = openWatch(this.options.connection, this.path, params, (type, object) => {
      const meta = (object as { metadata?: { resourceVersion?: string } } | undefined)?.metadata;
      if (type === 'ERROR') {
        const status = statusOf(object);
        if (status.code === 410) seen.gone = true;
        else seen.failure = new HttpError('watch', status.code ?? 0, status.message ?? 'watch error');
        stream.abort();
        return;
      }
      if (meta?.resourceVersion !== undefined) this.resourceVersion = meta.resourceVersion;
      if (type === 'ADDED' || type === 'MODIFIED') this.deliver(object as ConfigMapObject, false);
      else if (type === 'DELETED') {
        this.delivered = meta?.resourceVersion;
        this.absent(meta?.resourceVersion);
      }
      // BOOKMARK: only the resourceVersion, taken above.
    });
    this.stream = stream;
    if (this.isStopped()) stream.abort();
    const ended = stream.ended.then((err) => {
      if (err !== undefined && seen.failure === undefined && !seen.gone) seen.failure = err;
    });
    // client-go's typed Watch ends the request on the client side at timeoutSeconds too.
    const deadline = setTimeout(() => { stream.abort(); }, timeoutSeconds * 1000 + WATCH_DEADLINE_GRACE_MS);
    // Over HTTP/2 the connection's PINGs tell a silent connection from an idle watch: no check.
    const checks = this.options.connection.pings?.() === true ? { stop: () => undefined } : scheduleChecks(this.options.checkMs ?? DEFAULT_CHECK_MS, () => { void this.check().catch((err: unknown) => { this.options.logger.error({ err }, 'the watch check failed'); }); }, this.options.randomCheckPhase === false ? undefined : (this.options.random ?? Math.random));
    // The watch may hang before its controller exists (a silent connection before the headers).
    await Promise.race([ended, new Promise<void>((resolve) => { this.interrupted = resolve; })]);
    clearTimeout(deadline);
    checks.stop();
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
      throw failure instanceof HttpError ? failure : wrapWatchError(failure);
    }
    return 'closed';
  }
}

// Kubernetes Events regarding the Pod, where operators look: `kubectl describe pod`, `kubectl
// events --for pod/NAME`. The writer: which occurrences to write and when is event-series.ts
// (client-go's EventCorrelator: one Event per series, a token bucket); this does the API writes,
// one at a time (what arrives meanwhile coalesces into its series). A write the apiserver cannot
// take now (429 with its Retry-After, 5xx, no answer) is tried again within the rate limit, said
// once per cause at warning level; one it refuses for good (400, 422) is dropped, said at warning
// level. No permission for events (403) → one log line naming the fix and when writes are tried
// again; what is pending is kept (the latest occurrence of each series) and written once a write is
// allowed: tried after 10 s doubling to `forbiddenRetryMs`, and at once on `permissionsMayHaveChanged()`
// (the API source can read its ConfigMap again). The watcher keeps publishing either way.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { KubeConnection } from './connection.js';
import { statusOf } from './connection.js';
import { EventSeries } from './event-series.js';
import { retryAfterMs } from './retry-backoff.js';
import type { EventOccurrence, Series } from './event-series.js';

export interface PodReference {
  namespace: string;
  name: string;
  uid?: string;
  /** The node, for `source.host`. */
  nodeName?: string;
}

export interface EventRecorderOptions {
  connection: KubeConnection;
  pod: PodReference;
  logger: Logger;
  /** Hint in the "forbidden" line. */
  fixCommand?: string;
  /** Token bucket: at most `burst` writes at once, one more every `refillMs`. Defaults 25 and 10 s. */
  burst?: number;
  refillMs?: number;
  forbiddenRetryMs?: number;
  now?: () => number;
}

export const COMPONENT = 'envoy-xds-injector-watch';
const DEFAULT_BURST = 25;
const DEFAULT_REFILL_MS = 10_000;
const DEFAULT_FORBIDDEN_RETRY_MS = 5 * 60_000;
/**
 * An Event's message is at most 1 KiB (NoteLengthLimit in k8s.io/kubernetes pkg/apis/core/validation/events.go,
 * enforced for events.k8s.io; kept for core/v1 too, so `kubectl describe` stays readable).
 */
export const EVENT_MESSAGE_MAX = 1024;

/** `message` cut to EVENT_MESSAGE_MAX characters, an ellipsis marking the cut. */
export function capMessage(message: string): string {
  return message.length <= EVENT_MESSAGE_MAX ? message : `${message.slice(0, EVENT_MESSAGE_MAX - 1)}…`;
}

export class PodEventRecorder {
  private readonly series: EventSeries;
  private writing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Causes of delayed or dropped writes said since the last successful write. */
  private readonly said = new Set<string>();
  /** A 403 was said and no write succeeded since. */
  private forbiddenSaid = false;
  /** Writes sent to the apiserver (creates + patches), and occurrences recorded. */
  readonly stats = { occurrences: 0, creates: 0, patches: 0, failed: 0 };

  constructor(private readonly options: EventRecorderOptions) {
    this.series = new EventSeries(options.burst ?? DEFAULT_BURST, options.refillMs ?? DEFAULT_REFILL_MS, options.now ?? Date.now);
  }

  record(occurrence: EventOccurrence): void {
    if (this.closed) return;
    this.stats.occurrences++;
    this.series.add(occurrence);
    this.schedule();
  }

  /** Writes what is pending as tokens allow; resolves when nothing is pending or it must wait for a token. */
  async flush(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
  }

  /**
   * The watcher's API access recovered (the ConfigMap reads again): the Role that allows that allows
   * Event writes too, so a pause after a 403 ends and what is pending is written now.
   */
  permissionsMayHaveChanged(): void {
    if (this.closed || !this.series.resume()) return;
    clearTimeout(this.timer);
    this.schedule();
  }

  /** Stops writing; pending occurrences that have no token are dropped. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.flush();
  }

  private schedule(): void {
    if (this.writing !== undefined || this.closed || this.series.pending === 0) return;
    this.writing = this.drain().finally(() => {
      this.writing = undefined;
    });
  }

  private async drain(): Promise<void> {
    while (!this.closed) {
      const next = this.series.next();
      if (next === undefined) return;
      if ('waitMs' in next) {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => { this.schedule(); }, next.waitMs).unref();
        return;
      }
      await this.write(next.write);
    }
  }

  private async write(series: Series): Promise<void> {
    const { connection, pod } = this.options;
    const base = `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/events`;
    const count = series.count;
    try {
      let res;
      if (series.name !== undefined) {
        this.stats.patches++;
        res = await connection.request(
          'PATCH',
          `${base}/${series.name}`,
          { count, lastTimestamp: series.lastTimestamp, message: series.occurrence.message },
          'application/merge-patch+json',
        );
        if (res.status === 404) series.name = undefined; // expired (--event-ttl): start the series again
      }
      if (series.name === undefined) {
        this.stats.creates++;
        // client-go names Events `<object name>.<unique hex>`.
        const name = `${pod.name}.${randomBytes(8).toString('hex')}`;
        res = await connection.request('POST', base, this.eventObject(series, name, count));
        if (res.status === 201 || res.status === 200) series.name = name;
      }
      if (res === undefined) return;
      if (res.status === 403) {
        this.forbidden(series, statusOf(res.body).message ?? res.text);
        return;
      }
      if (res.status >= 300) {
        this.stats.failed++;
        const message = statusOf(res.body).message ?? res.text.slice(0, 300);
        if (res.status === 429 || res.status >= 500) {
          const after = retryAfterMs(res.headers?.['retry-after'], Date.now());
          const delay = this.series.retry(series, after);
          this.delayed(String(res.status), `the apiserver answered ${String(res.status)} to an Event write${after === undefined ? '' : ` (Retry-After ${String(Math.round(after / 1000))} s)`}: ${message}`, delay);
          return;
        }
        this.sayOnce(`dropped:${String(res.status)}`, `Event ${series.occurrence.reason} for ${series.occurrence.file} dropped: the apiserver refused it (${String(res.status)}: ${message}); the verdict is in this log`);
        return;
      }
      series.written = count;
      this.series.written();
      this.said.clear();
      if (this.forbiddenSaid) {
        this.forbiddenSaid = false;
        this.options.logger.info({ namespace: pod.namespace }, 'Events can be recorded again: writing the ones kept while forbidden');
      }
    } catch (err) {
      this.stats.failed++;
      const delay = this.series.retry(series);
      this.delayed('unreachable', `the Kubernetes API is unreachable (${(err as Error).message})`, delay);
    }
  }

  private delayed(cause: string, why: string, delayMs: number): void {
    this.sayOnce(cause, `Events delayed: ${why}; trying again in ${String(Math.round(delayMs / 1000))} s and after, within the rate limit (none is lost while the watcher runs)`);
  }

  private sayOnce(cause: string, message: string): void {
    if (this.said.has(cause)) return;
    this.said.add(cause);
    this.options.logger.warn({ namespace: this.options.pod.namespace }, message);
  }

  private forbidden(series: Series, message: string): void {
    this.stats.failed++;
    const { delayMs, first } = this.series.forbidden(series, this.options.forbiddenRetryMs ?? DEFAULT_FORBIDDEN_RETRY_MS);
    if (first) {
      this.forbiddenSaid = true;
      const fix = this.options.fixCommand === undefined ? '' : ` Fix: ${this.options.fixCommand}`;
      this.options.logger.warn(
        { namespace: this.options.pod.namespace, error: message, retryInMs: delayMs },
        `cannot record Events (create/patch events in namespace ${this.options.pod.namespace} is forbidden): they are kept (the latest of each) and written once allowed, tried again in ${String(Math.round(delayMs / 1000))} s, doubling to ${String(Math.round((this.options.forbiddenRetryMs ?? DEFAULT_FORBIDDEN_RETRY_MS) / 1000))} s, and at once when the Kubernetes API is usable again; verdicts are in this log meanwhile; publishing goes on.${fix}`,
      );
    } else {
      this.options.logger.debug({ namespace: this.options.pod.namespace, retryInMs: delayMs }, 'Event write still forbidden');
    }
  }

  private eventObject(series: Series, name: string, count: number): Record<string, unknown> {
    const { pod } = this.options;
    const { occurrence } = series;
    return {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: pod.namespace },
      involvedObject: {
        apiVersion: 'v1',
        kind: 'Pod',
        namespace: pod.namespace,
        name: pod.name,
        ...(pod.uid === undefined ? {} : { uid: pod.uid }),
      },
      reason: occurrence.reason,
      message: occurrence.message,
      type: occurrence.type,
      count,
      firstTimestamp: series.firstTimestamp,
      lastTimestamp: series.lastTimestamp,
      source: { component: COMPONENT, ...(pod.nodeName === undefined ? {} : { host: pod.nodeName }) },
      reportingComponent: COMPONENT,
      reportingInstance: pod.name,
    };
  }
}

// Envoy's verdict (and the watcher's own publish/reject decisions) as Kubernetes Events regarding
// the Pod, where operators look: `kubectl describe pod`, `kubectl events --for pod/NAME`.
//
// Deduplicated and rate-limited like client-go's EventRecorder/EventCorrelator:
// - one Event object per series (reason + file): the first occurrence is a create, later ones
//   PATCH its count, lastTimestamp and message (the latest version), which `kubectl describe`
//   shows as "(xN over T)". client-go's correlator does the same for identical messages and
//   aggregates similar ones; our messages differ only by version, so every occurrence joins its
//   series directly.
// - writes take a token from a bucket (client-go's spam filter: burst 25); while no token is
//   left, occurrences only update the series in memory and the series is written once when a
//   token comes back, with the latest message and the full count: a burst of edits makes at most
//   `burst + elapsed / refillMs` writes, and the last verdict is never lost, only delayed.
// - one write at a time; what arrives meanwhile coalesces into its series.
// - no permission for events (403) → one log line naming the fix, then Events are paused (and
//   retried after `forbiddenRetryMs`); the watcher keeps publishing either way.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { KubeConnection } from './sources/kube.js';
import { statusOf } from './sources/kube.js';

/** What Envoy's verdict (verdict.ts) reports for one published file. */
export interface VerdictRecord {
  file: string;
  /** The version Envoy was given (content-derived; see docs/api-source.md for resourceVersion). */
  version: string;
  previousVersion?: string;
  outcome: 'accepted' | 'rejected' | 'unknown';
  rolledBack: boolean;
  /** From the publish (rename) to Envoy's verdict, in milliseconds. */
  latencyMs?: number;
  message: string;
  /** The ConfigMap's resourceVersion the file came from, when it came through the API. */
  resourceVersion?: string;
  /** rejected: Envoy's reason (already in `message`), when its admin API reports one. */
  reason?: string;
  /** rejected: the start of Envoy's log line with the full error (already in `message`). */
  envoyLog?: string;
}

export type EventType = 'Normal' | 'Warning';

export const EventReason = {
  accepted: 'XdsAccepted',
  rejected: 'XdsRejected',
  rolledBack: 'XdsRolledBack',
  unknown: 'XdsVerdictUnknown',
  /** Refused by the watcher's gate: never published, the last good file stays. */
  invalid: 'XdsInvalid',
} as const;

export interface EventOccurrence {
  type: EventType;
  reason: string;
  /** The series key besides the reason: one Event object per (reason, file). */
  file: string;
  message: string;
}

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
/** The apiserver keeps Events for --event-ttl (1 h by default); past that a PATCH gets 404. */
const MAX_SERIES = 256;

interface Series {
  key: string;
  occurrence: EventOccurrence;
  name: string | undefined;
  count: number;
  written: number;
  firstTimestamp: string;
  lastTimestamp: string;
}

/**
 * The Event for a verdict: reason, type and a one-line message with file, version and latency, and
 * for a rejection Envoy's reason or the log line to grep (from the verdict's message); at most
 * EVENT_MESSAGE_MAX characters.
 */
export function verdictOccurrence(verdict: VerdictRecord): EventOccurrence {
  const reason = verdict.rolledBack
    ? EventReason.rolledBack
    : verdict.outcome === 'accepted'
      ? EventReason.accepted
      : verdict.outcome === 'rejected'
        ? EventReason.rejected
        : EventReason.unknown;
  const parts = [`${verdict.file} version ${verdict.version}`];
  if (verdict.resourceVersion !== undefined) parts.push(`ConfigMap resourceVersion ${verdict.resourceVersion}`);
  if (verdict.latencyMs !== undefined) parts.push(`after ${String(Math.round(verdict.latencyMs))} ms`);
  if (verdict.rolledBack && verdict.previousVersion !== undefined) parts.push(`rolled back to ${verdict.previousVersion}`);
  return {
    type: verdict.outcome === 'accepted' && !verdict.rolledBack ? 'Normal' : 'Warning',
    reason,
    file: verdict.file,
    message: capMessage(`${parts.join(', ')}: ${verdict.message}`),
  };
}

function capMessage(message: string): string {
  return message.length <= EVENT_MESSAGE_MAX ? message : `${message.slice(0, EVENT_MESSAGE_MAX - 1)}…`;
}

export class EventRecorder {
  private readonly series = new Map<string, Series>();
  private readonly dirty = new Set<string>();
  private tokens: number;
  private lastRefill: number;
  private writing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private forbiddenUntil = 0;
  private closed = false;
  private readonly now: () => number;
  /** Writes sent to the apiserver (creates + patches), and occurrences recorded. */
  readonly stats = { occurrences: 0, creates: 0, patches: 0, failed: 0 };

  constructor(private readonly options: EventRecorderOptions) {
    this.now = options.now ?? Date.now;
    this.tokens = options.burst ?? DEFAULT_BURST;
    this.lastRefill = this.now();
  }

  verdict(verdict: VerdictRecord): void {
    this.record(verdictOccurrence(verdict));
  }

  record(occurrence: EventOccurrence): void {
    if (this.closed) return;
    this.stats.occurrences++;
    const key = `${occurrence.reason}\0${occurrence.file}`;
    const at = new Date(this.now()).toISOString().replace(/\.\d+Z$/, 'Z');
    let series = this.series.get(key);
    if (series === undefined) {
      series = { key, occurrence, name: undefined, count: 0, written: 0, firstTimestamp: at, lastTimestamp: at };
      this.series.set(key, series);
      if (this.series.size > MAX_SERIES) this.evictOne();
    }
    series.occurrence = occurrence;
    series.count++;
    series.lastTimestamp = at;
    this.dirty.add(key);
    this.schedule();
  }

  /** Writes what is pending as tokens allow; resolves when nothing is pending or it must wait for a token. */
  async flush(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
  }

  /** Stops writing; pending occurrences that have no token are dropped. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.flush();
  }

  private evictOne(): void {
    for (const [key] of this.series) {
      if (!this.dirty.has(key)) {
        this.series.delete(key);
        return;
      }
    }
  }

  private refill(): void {
    const refillMs = this.options.refillMs ?? DEFAULT_REFILL_MS;
    const burst = this.options.burst ?? DEFAULT_BURST;
    const earned = Math.floor((this.now() - this.lastRefill) / refillMs);
    if (earned > 0) {
      this.tokens = Math.min(burst, this.tokens + earned);
      this.lastRefill += earned * refillMs;
    }
  }

  private schedule(): void {
    if (this.writing !== undefined || this.closed || this.dirty.size === 0) return;
    this.writing = this.drain().finally(() => {
      this.writing = undefined;
    });
  }

  private async drain(): Promise<void> {
    while (this.dirty.size > 0 && !this.closed) {
      if (this.now() < this.forbiddenUntil) {
        this.dirty.clear();
        return;
      }
      this.refill();
      if (this.tokens < 1) {
        const refillMs = this.options.refillMs ?? DEFAULT_REFILL_MS;
        clearTimeout(this.timer);
        this.timer = setTimeout(() => { this.schedule(); }, Math.max(1, this.lastRefill + refillMs - this.now())).unref();
        return;
      }
      const key = this.dirty.values().next().value;
      if (key === undefined) return;
      this.dirty.delete(key);
      const series = this.series.get(key);
      if (series === undefined) continue;
      this.tokens--;
      await this.write(series);
    }
  }

  private async write(series: Series): Promise<void> {
    const { connection, pod, logger } = this.options;
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
        this.forbidden(statusOf(res.body).message ?? res.text);
        return;
      }
      if (res.status >= 300) {
        this.stats.failed++;
        logger.debug({ status: res.status, body: res.text.slice(0, 300) }, 'event write failed');
        return;
      }
      series.written = count;
    } catch (err) {
      this.stats.failed++;
      logger.debug({ err }, 'event write failed (API unreachable)');
    }
  }

  private forbidden(message: string): void {
    const retryMs = this.options.forbiddenRetryMs ?? DEFAULT_FORBIDDEN_RETRY_MS;
    if (this.forbiddenUntil === 0) {
      const fix = this.options.fixCommand === undefined ? '' : ` Fix: ${this.options.fixCommand}`;
      this.options.logger.warn(
        { namespace: this.options.pod.namespace, error: message },
        `cannot record Events (create/patch events in namespace ${this.options.pod.namespace} is forbidden): verdicts are only in this log; publishing goes on.${fix}`,
      );
    }
    this.forbiddenUntil = this.now() + retryMs;
    this.dirty.clear();
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

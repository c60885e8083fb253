// List+watch of ONE ConfigMap through the Kubernetes API, the way client-go's reflector does it:
// list (fieldSelector metadata.name=NAME, which RBAC `resourceNames` can authorize), then watch
// from the list's resourceVersion; resume every watch the server ends from the last resourceVersion
// seen (events and BOOKMARKs); on 410 Gone ("too old resource version") list again; on a failure
// (unreachable, forbidden, connection lost) wait with exponential backoff and jitter, then list
// again. The watch is client-node's Watch.
import { Watch } from '@kubernetes/client-node/dist/watch.js';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { Logger } from 'pino';
import { statusOf } from './connection.js';
import type { KubeConnection } from './connection.js';

/** The fields of a v1 ConfigMap the watcher reads. */
export interface ConfigMapObject {
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string };
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

export type ConfigMapEvent =
  /** The ConfigMap as it now is (list result, ADDED, MODIFIED). */
  | { type: 'object'; configMap: ConfigMapObject }
  /** Deleted (DELETED event) or absent from the list. */
  | { type: 'absent'; resourceVersion: string | undefined };

/** Why the API cannot be used right now. */
export interface ApiProblem {
  kind: 'forbidden' | 'unauthorized' | 'unreachable' | 'error';
  /** The verb that failed: list or watch. */
  verb: 'list' | 'watch';
  status?: number;
  message: string;
}

export interface ConfigMapWatchOptions {
  connection: KubeConnection;
  namespace: string;
  name: string;
  logger: Logger;
  onEvent(event: ConfigMapEvent): void;
  /** Called on each change between usable (a list succeeded) and unusable; `problem` when unusable. */
  onAvailability(available: boolean, problem?: ApiProblem): void;
  /** Backoff after a failure: initialMs doubling to maxMs, each delay multiplied by 1..1.5 (jitter). */
  backoff?: { initialMs: number; maxMs: number };
  /**
   * Start by watching from this resourceVersion instead of listing (what a restarted reflector
   * does with a remembered resourceVersion). The apiserver answers 410 when it is too old.
   */
  resumeFrom?: string;
  random?: () => number;
}

const DEFAULT_BACKOFF = { initialMs: 500, maxMs: 30_000 };
// client-go's reflector asks the apiserver to end each watch after 5-10 min (minWatchTimeout * (1+rand)).
const MIN_WATCH_TIMEOUT_S = 300;

/** resourceVersion a is older than b; false when either is not a decimal integer (they are opaque). */
export function olderResourceVersion(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return BigInt(a) < BigInt(b);
}

export class ConfigMapWatch {
  private stopped = false;
  private controller: AbortController | undefined;
  private wake: (() => void) | undefined;
  private resourceVersion: string | undefined;
  /** The newest object resourceVersion delivered, to drop replays after a re-list. */
  private delivered: string | undefined;
  private available = false;
  private running: Promise<void> | undefined;
  /** Counts, for tests and logs. */
  readonly stats = { lists: 0, watches: 0, gone: 0, failures: 0 };

  constructor(private readonly options: ConfigMapWatchOptions) {}

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.controller?.abort();
    this.wake?.();
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
    const backoff = this.options.backoff ?? DEFAULT_BACKOFF;
    const random = this.options.random ?? Math.random;
    let needList = this.options.resumeFrom === undefined;
    this.resourceVersion = this.options.resumeFrom;
    let failures = 0;
    while (!this.stopped) {
      try {
        if (needList) {
          await this.list();
          needList = false;
        }
        const openedAt = Date.now();
        const outcome = await this.watchOnce();
        if (outcome === 'gone') {
          this.stats.gone++;
          logger.info({ resourceVersion: this.resourceVersion }, '410 Gone: resourceVersion too old, listing again');
          needList = true;
        }
        failures = 0; // the watch connected: a fresh failure starts the backoff over
        // A server that ends every watch at once must not turn this loop into polling.
        if (outcome === 'closed' && Date.now() - openedAt < 1000 && !this.isStopped()) await this.pause(1000);
      } catch (err) {
        if (this.isStopped()) break;
        this.stats.failures++;
        const problem = classify(err);
        if (this.available || failures === 0) {
          this.available = false;
          this.options.onAvailability(false, problem);
        }
        const delay = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(failures, 16)) * (1 + random() * 0.5);
        failures++;
        // Resume with a list, not a watch from the old resourceVersion: a list is a consistent
        // read, so what is published first after an outage is the current object, never an older
        // cached one while the watch catches up.
        needList = true;
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

  private async list(): Promise<void> {
    this.stats.lists++;
    const query = new URLSearchParams({ fieldSelector: this.fieldSelector });
    const res = await this.options.connection.request('GET', `${this.path}?${query.toString()}`);
    if (res.status !== 200) throw new HttpError('list', res.status, statusOf(res.body).message ?? res.text.slice(0, 300));
    const list = res.body as { metadata?: { resourceVersion?: string }; items?: ConfigMapObject[] };
    this.resourceVersion = list.metadata?.resourceVersion;
    if (!this.available) {
      this.available = true;
      this.options.onAvailability(true);
    }
    const item = list.items?.find((cm) => cm.metadata.name === this.options.name);
    if (item === undefined) this.options.onEvent({ type: 'absent', resourceVersion: this.resourceVersion });
    else this.deliver(item, true);
  }

  private deliver(configMap: ConfigMapObject, fromList: boolean): void {
    const rv = configMap.metadata.resourceVersion;
    // After a re-list the apiserver may replay what was already delivered; a list is authoritative.
    if (!fromList && (rv === this.delivered || olderResourceVersion(rv, this.delivered))) return;
    this.delivered = rv;
    this.options.onEvent({ type: 'object', configMap });
  }

  /** One watch connection; resolves 'closed' when the server ended it, 'gone' on 410. */
  private async watchOnce(): Promise<'closed' | 'gone'> {
    this.stats.watches++;
    const watch = new Watch(this.options.connection.watchConfig as unknown as KubeConfig);
    // Set from the watch's callbacks.
    const seen: { gone: boolean; failure: unknown } = { gone: false, failure: undefined };
    const ended = new Promise<void>((resolve) => {
      const params = {
        fieldSelector: this.fieldSelector,
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: Math.round(MIN_WATCH_TIMEOUT_S * (1 + Math.random())),
      };
      void watch
        .watch(
          this.path,
          params,
          (type, object: unknown) => {
            const meta = (object as { metadata?: { resourceVersion?: string } } | undefined)?.metadata;
            if (type === 'ERROR') {
              const status = statusOf(object);
              if (status.code === 410) seen.gone = true;
              else seen.failure = new HttpError('watch', status.code ?? 0, status.message ?? 'watch error');
              this.controller?.abort();
              return;
            }
            if (meta?.resourceVersion !== undefined) this.resourceVersion = meta.resourceVersion;
            if (type === 'ADDED' || type === 'MODIFIED') this.deliver(object as ConfigMapObject, false);
            else if (type === 'DELETED') {
              this.delivered = meta?.resourceVersion;
              this.options.onEvent({ type: 'absent', resourceVersion: meta?.resourceVersion });
            }
            // BOOKMARK: only the resourceVersion, taken above.
          },
          (err: unknown) => {
            if (err !== null && err !== undefined && seen.failure === undefined && !seen.gone) seen.failure = err;
            resolve();
          },
        )
        .then((controller) => {
          this.controller = controller;
          if (this.stopped) controller.abort();
        });
    });
    await ended;
    this.controller = undefined;
    const { gone, failure } = seen;
    if (gone || (failure as { statusCode?: number } | undefined)?.statusCode === 410) return 'gone';
    if (failure !== undefined && !this.isStopped()) {
      if (isAbort(failure)) return 'closed';
      throw failure instanceof HttpError ? failure : wrapWatchError(failure);
    }
    return 'closed';
  }
}

class HttpError extends Error {
  override name = 'HttpError';
  constructor(readonly verb: 'list' | 'watch', readonly status: number, message: string) {
    super(message);
  }
}

function isAbort(err: unknown): boolean {
  return (err as { name?: string } | undefined)?.name === 'AbortError';
}

function wrapWatchError(err: unknown): Error {
  const status = (err as { statusCode?: number }).statusCode;
  if (typeof status === 'number') return new HttpError('watch', status, (err as Error).message);
  return new HttpError('watch', 0, `watch: ${(err as Error).message}`);
}

function classify(err: unknown): ApiProblem {
  if (err instanceof HttpError) {
    const kind = err.status === 403 ? 'forbidden' : err.status === 401 ? 'unauthorized' : err.status === 0 ? 'unreachable' : 'error';
    return { kind, verb: err.verb, status: err.status, message: err.message };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { kind: 'unreachable', verb: 'list', message };
}

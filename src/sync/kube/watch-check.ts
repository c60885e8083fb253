// The periodic check of an open watch over HTTP/1.1 (watch-health.ts: CHECK_REQUEST, judgeCheck),
// on a connection of its own for the period, which the companion's read (the store's) shares when
// due. Over HTTP/2 the connection's PINGs do this instead (configmap-watch.ts schedules no check).
import { ApiHttpError as HttpError, apiHttpError as httpError, problemOfError as classify } from './api-problem.js';
import { sessionOf, type KubeSession } from './connection.js';
import type { ConfigMapObject } from './configmap-object.js';
import { DEFAULT_CHECK_MS, DEFAULT_CHECK_TIMEOUT_MS, type ConfigMapWatchOptions } from './configmap-watch-options.js';
import { CHECK_REQUEST, judgeCheck, type ObjectState } from './watch-health.js';

/** What a check calls for: list again (it found the watch behind), or a failure (no answer). */
export type Interrupt = { relist: string } | { failure: HttpError };

/** What the check reads of its watch, and how it ends it. */
export interface CheckedWatch {
  path(): string;
  fieldSelector(): string;
  /** What the watch last said of the object. */
  state(): ObjectState;
  stopped(): boolean;
  /** Milliseconds on a monotonic clock. */
  now(): number;
  stats: { checks: number; missed: number };
  interrupt(interrupt: Interrupt): void;
}

export class WatchCheck {
  private checking = false;

  constructor(private readonly options: ConfigMapWatchOptions, private readonly watch: CheckedWatch) {}

  /** One check (unless one is under way), and the companion's read after it when due. */
  async check(): Promise<void> {
    if (this.checking || this.watch.stopped()) return;
    this.checking = true;
    this.watch.stats.checks++;
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
    const sentAt = this.watch.now();
    const query = new URLSearchParams({ fieldSelector: this.watch.fieldSelector(), resourceVersion: '0' });
    const res = await session.request('GET', `${this.watch.path()}?${query.toString()}`, undefined, undefined, this.options.checkTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS, CHECK_REQUEST).catch((err: unknown) => {
      // No answer: the apiserver, or the path to it, is silent. The pooled connections may be too.
      this.watch.interrupt({ failure: new HttpError('check', 0, (err as Error).message) });
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
    const verdict = judgeCheck(item === undefined ? { exists: false } : { exists: true, uid: item.metadata.uid, resourceVersion: item.metadata.resourceVersion }, this.watch.state());
    if (verdict.current) {
      this.options.onConfirmed?.(sentAt);
      return true;
    }
    this.watch.stats.missed++;
    this.options.logger.info({ why: verdict.why }, 'the watch missed a change (a silent connection?): listing again');
    this.watch.interrupt({ relist: verdict.why });
    return true;
  }
}

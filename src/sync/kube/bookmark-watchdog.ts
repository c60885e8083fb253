// What keeps one watch honest (configmap-watch.ts): over HTTP/2 the connection's PINGs (h2-client.ts),
// nothing here; over HTTP/1.1 the periodic check (watch-check.ts) until the watch hears a BOOKMARK,
// then a watchdog: nothing heard for the bookmark period plus the margin (--api-timeout) ends the
// connection, as an unanswered PING does. The rule is watch-liveness.ts; this is its thin IO loop:
// one timer, re-armed on every line the watch delivers.
import type { Logger } from 'pino';
import { scheduleChecks } from './check-schedule.js';
import { DEFAULT_CHECK_MS, DEFAULT_CHECK_TIMEOUT_MS } from './configmap-watch-options.js';
import { BOOKMARK_EVERY_MS, livenessOf, type Heard } from './watch-liveness.js';

export class BookmarkWatchdog {
  private readonly heardSoFar: Heard;
  private timer: NodeJS.Timeout | undefined;
  private done = false;

  /**
   * `now`: ms on a monotonic clock; `marginMs`: slack past the period (--api-timeout); `onSilent(quietMs)`:
   * the connection went silent (called at most once).
   */
  constructor(private readonly now: () => number, private readonly marginMs: number, private readonly onSilent: (quietMs: number) => void, private readonly everyMs = BOOKMARK_EVERY_MS) {
    this.heardSoFar = { bookmarks: 0, lastAt: now() };
  }

  /** BOOKMARKs heard on this watch so far. */
  get bookmarks(): number {
    return this.heardSoFar.bookmarks;
  }

  /** The watch opened (200), or delivered a line of `type` (ADDED, MODIFIED, DELETED, BOOKMARK). */
  heard(type?: string): void {
    if (this.done) return;
    this.heardSoFar.lastAt = this.now();
    if (type === 'BOOKMARK') this.heardSoFar.bookmarks++;
    this.arm();
  }

  /** Whether the periodic check should run now: no BOOKMARK has come on this watch yet. */
  wantsCheck(): boolean {
    return livenessOf(this.heardSoFar, this.now(), this.marginMs, this.everyMs).by === 'check';
  }

  stop(): void {
    this.done = true;
    clearTimeout(this.timer);
  }

  private arm(): void {
    clearTimeout(this.timer);
    const liveness = livenessOf(this.heardSoFar, this.now(), this.marginMs, this.everyMs);
    if (liveness.by === 'check') return;
    if (liveness.by === 'silent') {
      this.stop();
      this.onSilent(liveness.quietMs);
      return;
    }
    // One ms past the bound: livenessOf says silent only after it.
    this.timer = setTimeout(() => { this.arm(); }, liveness.silentAt - this.now() + 1);
    this.timer.unref();
  }
}

/** How one watch is kept honest (configmap-watch.ts): the options it reads, and what to call. */
export interface SupervisorOptions {
  /** The connection has HTTP/2 PINGs (h2-client.ts): no check, no watchdog. */
  pings: boolean;
  /** --api-check (ms; 0: no check) and --api-timeout (ms: the watchdog's margin). */
  checkMs?: number;
  checkTimeoutMs?: number;
  randomCheckPhase?: boolean;
  random?: () => number;
  /** BOOKMARKs stand in for the check once they come (default true; false: the check every period, as before). */
  bookmarkLiveness?: boolean;
  /** The apiserver's bookmark period (ms; default BOOKMARK_EVERY_MS; tests with a stand-in apiserver shorten it). */
  bookmarkEveryMs?: number;
  now: () => number;
  logger: Pick<Logger, 'debug'>;
  stats: { bookmarks: number; silent: number };
  check(): void;
  /** The connection went silent: `message` says so. */
  silent(message: string): void;
}

export interface SupervisedWatch {
  /** The watch opened (no type), or delivered a line of `type`. */
  heard(type?: string): void;
  stop(): void;
}

/** Starts what keeps one watch honest: nothing over HTTP/2; over HTTP/1.1 the check, skipped while BOOKMARKs come, and the watchdog. */
export function superviseWatch(o: SupervisorOptions): SupervisedWatch {
  if (o.pings) return { heard: () => undefined, stop: () => undefined };
  const marginMs = o.checkTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const watchdog = o.bookmarkLiveness === false ? undefined : new BookmarkWatchdog(o.now, marginMs, (quietMs) => {
    o.stats.silent++;
    o.silent(`watch: nothing heard for ${String(Math.round(quietMs / 1000))}s after the apiserver's BOOKMARKs (a silent connection)`);
  }, o.bookmarkEveryMs);
  const checks = scheduleChecks(o.checkMs ?? DEFAULT_CHECK_MS, () => {
    if (watchdog?.wantsCheck() === false) return;
    o.logger.debug('checking the watch (no BOOKMARK on it yet)');
    o.check();
  }, o.randomCheckPhase === false ? undefined : (o.random ?? Math.random));
  return {
    heard: (type) => {
      if (type === 'BOOKMARK') {
        o.stats.bookmarks++;
        o.logger.debug({ bookmarks: (watchdog?.bookmarks ?? 0) + 1 }, 'BOOKMARK: the watch is alive (no check while they come)');
      }
      watchdog?.heard(type);
    },
    stop: () => {
      checks.stop();
      watchdog?.stop();
    },
  };
}

// Which Pod Events to write, and when, pure (clock passed in): client-go's EventCorrelator without
// the API write (pod-events.ts does that).
// - one Event object per series (reason + file): the first occurrence is a create, later ones
//   PATCH its count, lastTimestamp and message (the latest version), which `kubectl describe`
//   shows as "(xN over T)". client-go's correlator does the same for identical messages and
//   aggregates similar ones; our messages differ only by version, so every occurrence joins its
//   series directly.
// - writes take a token from a bucket (client-go's spam filter: burst 25); while no token is
//   left, occurrences only update the series in memory and the series is written once when a
//   token comes back, with the latest message and the full count: a burst of edits makes at most
//   `burst + elapsed / refillMs` writes, and the last verdict is never lost, only delayed.
// - a write the apiserver could not take now (429, 5xx, no answer) is tried again: its series is
//   pending again, and writes wait for the server's Retry-After or a backoff (1 s doubling to
//   60 s), whichever is longer; each try takes a token, so retries stay within the bucket.
// - no permission for events (403): the series stays pending (the newest occurrence of each, up to
//   MAX_SERIES), writes pause for a backoff (10 s doubling to 5 min) or until `resume()` (the Role
//   that lets the watcher read its ConfigMap is the one that lets it write Events: the API source
//   usable again is the moment to try), then the pending series are written.

export type EventType = 'Normal' | 'Warning';

export interface EventOccurrence {
  type: EventType;
  reason: string;
  /** The series key besides the reason: one Event object per (reason, file). */
  file: string;
  message: string;
}

/** One Event object as this process knows it; the writer sets `name` once created and `written`. */
export interface Series {
  key: string;
  occurrence: EventOccurrence;
  /** The Event object's name once created. */
  name: string | undefined;
  count: number;
  /** `count` as last written. */
  written: number;
  firstTimestamp: string;
  lastTimestamp: string;
}

/** The apiserver keeps Events for --event-ttl (1 h by default); past that a PATCH gets 404. */
const MAX_SERIES = 256;
const RETRY_INITIAL_MS = 1_000;
const RETRY_MAX_MS = 60_000;
/** The longest Retry-After honoured: a server asking for more gets its Events this late. */
const RETRY_AFTER_MAX_MS = 5 * 60_000;
/** After a 403: the first pause, doubled at each 403 in a row up to the cap given to `forbidden`. */
export const FORBIDDEN_RETRY_INITIAL_MS = 10_000;

export class EventSeries {
  private readonly series = new Map<string, Series>();
  private readonly dirty = new Set<string>();
  private tokens: number;
  private lastRefill: number;
  /** 403s in a row (0 once a write succeeds). */
  private forbiddenInRow = 0;
  /** After a failed write: no write before this time; `failures` in a row set the backoff. */
  private notBefore = 0;
  private failures = 0;

  /** Token bucket: at most `burst` writes at once, one more every `refillMs`; `now` in epoch ms. */
  constructor(private readonly burst: number, private readonly refillMs: number, private readonly now: () => number) {
    this.tokens = burst;
    this.lastRefill = now();
  }

  /** Series with an occurrence not written yet. */
  get pending(): number {
    return this.dirty.size;
  }

  /** Adds an occurrence to its series (a new series past MAX_SERIES evicts the oldest written one, else the oldest pending one). */
  add(occurrence: EventOccurrence): void {
    const key = `${occurrence.reason}\0${occurrence.file}`;
    const at = new Date(this.now()).toISOString().replace(/\.\d+Z$/, 'Z');
    let series = this.series.get(key);
    const created = series === undefined;
    if (series === undefined) {
      series = { key, occurrence, name: undefined, count: 0, written: 0, firstTimestamp: at, lastTimestamp: at };
      this.series.set(key, series);
    }
    series.occurrence = occurrence;
    series.count++;
    series.lastTimestamp = at;
    this.dirty.add(key);
    // After the new series is pending: it is the newest, never the one evicted.
    if (created && this.series.size > MAX_SERIES) this.evictOne();
  }

  /**
   * The series to write now (a token taken), or how long to wait (a token, a retry), or undefined
   * when nothing is pending.
   */
  next(): { write: Series } | { waitMs: number } | undefined {
    while (this.dirty.size > 0) {
      if (this.now() < this.notBefore) return { waitMs: this.notBefore - this.now() };
      this.refill();
      if (this.tokens < 1) return { waitMs: Math.max(1, this.lastRefill + this.refillMs - this.now()) };
      const key = this.dirty.values().next().value;
      if (key === undefined) return undefined;
      this.dirty.delete(key);
      const series = this.series.get(key);
      if (series === undefined) continue;
      this.tokens--;
      return { write: series };
    }
    return undefined;
  }

  /**
   * The write of `series` failed for a reason that passes (429, 5xx, no answer): it is pending
   * again, and no write happens for max(`retryAfterMs`, backoff). Returns that delay (ms).
   */
  retry(series: Series, retryAfterMs?: number): number {
    if (this.series.get(series.key) === series) this.dirty.add(series.key);
    const backoff = Math.min(RETRY_MAX_MS, RETRY_INITIAL_MS * 2 ** Math.min(this.failures, 16));
    this.failures++;
    const delay = Math.max(backoff, Math.min(retryAfterMs ?? 0, RETRY_AFTER_MAX_MS));
    this.notBefore = this.now() + delay;
    return delay;
  }

  /** A write succeeded: the backoffs start over. */
  written(): void {
    this.failures = 0;
    this.forbiddenInRow = 0;
  }

  /**
   * The write of `series` was forbidden (403): it stays pending and no write happens for
   * FORBIDDEN_RETRY_INITIAL_MS, doubled at each 403 in a row up to `maxMs`, or until `resume()`.
   * Returns the pause (ms) and whether it is the first 403 since a write succeeded (the one to log).
   */
  forbidden(series: Series, maxMs: number): { delayMs: number; first: boolean } {
    if (this.series.get(series.key) === series) this.dirty.add(series.key);
    const first = this.forbiddenInRow === 0;
    const delayMs = Math.min(maxMs, FORBIDDEN_RETRY_INITIAL_MS * 2 ** Math.min(this.forbiddenInRow, 16));
    this.forbiddenInRow++;
    this.notBefore = Math.max(this.notBefore, this.now() + delayMs);
    return { delayMs, first };
  }

  /**
   * Permissions may have changed (the API source can read its ConfigMap again): a pause after a 403
   * ends now. Returns whether it ended one (then pending series are to be written).
   */
  resume(): boolean {
    if (this.forbiddenInRow === 0 || this.notBefore <= this.now()) return false;
    this.notBefore = 0;
    return this.dirty.size > 0;
  }

  /** Past MAX_SERIES: the oldest written series goes; when all are pending (a long 403 or outage), the oldest pending one: memory stays bounded. */
  private evictOne(): void {
    for (const [key] of this.series) {
      if (!this.dirty.has(key)) {
        this.series.delete(key);
        return;
      }
    }
    const oldest = this.series.keys().next().value;
    if (oldest !== undefined) {
      this.series.delete(oldest);
      this.dirty.delete(oldest);
    }
  }

  private refill(): void {
    const earned = Math.floor((this.now() - this.lastRefill) / this.refillMs);
    if (earned > 0) {
      this.tokens = Math.min(this.burst, this.tokens + earned);
      this.lastRefill += earned * this.refillMs;
    }
  }
}

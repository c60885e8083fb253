// How long the API loop waits before trying again after a failure. The shape is client-go's
// reflector (k8s.io/client-go/tools/cache/reflector.go: NewExponentialBackoffManager(800ms, 30s,
// 2min reset, factor 2, jitter 1.0)): exponential, capped, jittered, and forgotten once the API has
// been healthy for a while. client-go forgets after 2 minutes without a failure; here the reset
// counts from when the API became usable again (a list answered and a watch open), and is shorter
// (10 s by default): a single watch reset after a recovery then costs the first step (about a
// second), not the outage's cap, while an API that fails again within seconds of every recovery
// (flapping auth, a proxy closing each watch) keeps backing off. A server's Retry-After (429, 503)
// is a floor. Pure: the caller passes the time (a monotonic clock) and the randomness.

export interface BackoffPolicy {
  /** The first delay, milliseconds. */
  initialMs: number;
  /** The cap, milliseconds (before jitter). */
  maxMs: number;
  /** Each delay is multiplied by 1 + random() * jitter. */
  jitter: number;
  /** Usable for this long (milliseconds) before the next failure: that failure starts over at initialMs. */
  resetAfterMs: number;
  /** The longest Retry-After honoured, milliseconds (a server asking for an hour gets this). */
  maxRetryAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000, jitter: 0.5, resetAfterMs: 10_000, maxRetryAfterMs: 5 * 60_000 };

export class RetryBackoff {
  private failures = 0;
  private usableSince: number | undefined;

  constructor(private readonly policy: BackoffPolicy = DEFAULT_BACKOFF, private readonly random: () => number = Math.random) {}

  /** Failures since the last reset. */
  get attempts(): number {
    return this.failures;
  }

  /** The API answered as it should at `now` (a list succeeded, a watch opened). Idempotent while usable. */
  usable(now: number): void {
    this.usableSince ??= now;
  }

  /**
   * A failure at `now`; `retryAfterMs`: the server's Retry-After, if it sent one. Returns the delay
   * (milliseconds) before the next attempt.
   */
  failure(now: number, retryAfterMs?: number): number {
    if (this.usableSince !== undefined && now - this.usableSince >= this.policy.resetAfterMs) this.failures = 0;
    this.usableSince = undefined;
    const { initialMs, maxMs, jitter, maxRetryAfterMs } = this.policy;
    const step = Math.min(maxMs, initialMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    const delay = step * (1 + this.random() * jitter);
    return retryAfterMs === undefined ? delay : Math.max(delay, Math.min(retryAfterMs, maxRetryAfterMs));
  }
}

/**
 * A Retry-After header (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) in milliseconds from
 * `nowMs` (wall clock, for the date form); undefined when absent or not understood.
 */
export function retryAfterMs(header: string | string[] | undefined, nowMs: number): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

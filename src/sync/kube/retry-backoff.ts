// How long the API loop waits before trying again after a failure. The base is client-go's
// reflector (k8s.io/client-go/tools/cache/reflector.go: wait.Backoff{800ms, factor 2, jitter 1.0,
// cap 30s}.DelayWithReset(2min)): exponential, capped, jittered (× 1 to 2), and forgotten once the
// API has been healthy for a while. client-go forgets after 2 minutes without a failure; here the
// reset counts from when the API became usable again (a list answered and a watch open), and is
// shorter (10 s by default): a single watch reset after a recovery then costs the first step, not
// the outage's cap, while an API that fails again within seconds of every recovery (flapping auth,
// a proxy closing each watch) keeps backing off. A server's Retry-After (429, 503) is a floor.
//
// Two kinds of failure wait differently:
//   refused: a ready apiserver answered no (403, 401, 429, an error): each retry costs it a request,
//            and the cause rarely goes away within seconds: doubling up to the cap (--api-retry-max).
//   down:    no answer, or the apiserver says it is not ready (/readyz): the retry is a connection
//            attempt or a readiness probe, and the outage ends at a moment nobody can predict.
//            Doubling alone would sleep through the end of it: after T seconds down the step is
//            about T, so the watcher wakes up to T × 2 after the apiserver came back (measured:
//            16-27 s after a restart that took 20 s). So a wait while down is also capped at
//            `downFraction` of the outage so far (an eighth: back within a quarter of the outage,
//            jitter included), but never below `downFloorMs` (2 s: the first seconds of an outage
//            do not turn into polling). A long outage still reaches the cap (30 s after 4 min).
// The doubling counts failures of one kind in a row: a refusal after a spell down (the 429 of an
// apiserver swamped by the lists of everyone it just let back in) starts at the first step, not
// at the step the outage had grown to (measured: 54 of 1,000 watchers answered 429 right after a
// restart waited 45-60 s more). The outage's age is kept across kinds.
// Pure: the caller passes the time (a monotonic clock) and the randomness.

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
  /** While down, a step is at most this fraction of the outage so far (before jitter)... */
  downFraction: number;
  /** ...but that bound is never below this, milliseconds. */
  downFloorMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  initialMs: 500,
  maxMs: 30_000,
  jitter: 1,
  resetAfterMs: 10_000,
  maxRetryAfterMs: 5 * 60_000,
  downFraction: 1 / 8,
  downFloorMs: 2_000,
};

/** What a failure says of the apiserver (see above). */
export type FailureKind = 'refused' | 'down';

export class RetryBackoff {
  private failures = 0;
  private usableSince: number | undefined;
  /** When the current outage began: the first failure after the last reset. */
  private outageSince: number | undefined;
  private lastKind: FailureKind | undefined;

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
   * A failure at `now`; `retryAfterMs`: the server's Retry-After, if it sent one; `kind`: whether
   * the apiserver refused (answered, ready) or is down (no answer, not ready). Returns the delay
   * (milliseconds) before the next attempt.
   */
  failure(now: number, retryAfterMs?: number, kind: FailureKind = 'refused'): number {
    if (this.usableSince !== undefined && now - this.usableSince >= this.policy.resetAfterMs) {
      this.failures = 0;
      this.outageSince = undefined;
    }
    this.usableSince = undefined;
    this.outageSince ??= now;
    if (kind !== this.lastKind) this.failures = 0;
    this.lastKind = kind;
    const { initialMs, maxMs, jitter, maxRetryAfterMs, downFraction, downFloorMs } = this.policy;
    let step = Math.min(maxMs, initialMs * 2 ** Math.min(this.failures, 30));
    if (kind === 'down') step = Math.min(step, Math.max(downFloorMs, (now - this.outageSince) * downFraction));
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

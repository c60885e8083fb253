// The rule that keeps `watch` from publishing an older ConfigMap version than one it already
// published when it switches from the API to the volume (docs/api-source.md, "Switching sources").
//
// The API is authoritative: a list is a consistent read, a watch delivers every change in order, so
// whatever the API gives is never older than what was published. The volume is not: the kubelet
// writes it at its next sync of the Pod (syncFrequency, 1 min by default; measured 59-74 s), and it
// carries no resourceVersion. What is known about it:
//   1. The kubelet's volume only moves forward (its ConfigMap manager follows the API with a watch).
//   2. A volume read at time t shows a version at least as new as any version that was current at
//      t - maxLag, where maxLag bounds the kubelet's delay (syncFrequency + jitter + cache staleness).
//   3. Content the API delivered before the version last published from the API is not newer than
//      that version, and neither is content the volume showed before a moment the API was
//      confirmed current (a list, or a check that found the watch up to date): the volume then
//      reflected an API state no newer than the one delivered. Content the volume showed while the
//      API merely looked fine proves nothing: the watch may have been silent then, and the volume
//      newer (unless the ConfigMap went back to an old content, which then waits for rule 2).
// So a volume snapshot is published only when it is the content last published (the volume has
// caught up), or when the volume has caught up before (rule 1), or when maxLag has passed since the
// last publish from the API and the content is not one known to be older (rules 2 and 3).
// Until then `watch` holds the API's version, which is the newest it knows. Times are on a
// monotonic clock (performance.now by default): a wall-clock step must not stretch maxLag.

export type VolumeDecision =
  | { publish: true; why: 'no-api-version' | 'caught-up' | 'lag-elapsed' }
  | { publish: false; why: 'known-older' | 'within-lag'; waitMs: number };

/** How many older contents to remember; a ConfigMap edited faster only loses rule 3 for the oldest. */
const MAX_REMEMBERED = 256;

export class FallbackGuard {
  /** Contents not newer than the API's version once the API was confirmed after `seenAt` (-Infinity: from the API). */
  private readonly older = new Map<string, number>();
  private lastApiDigest: string | undefined;
  private lastApiPublishAt = 0;
  private confirmedAt = Number.NEGATIVE_INFINITY;
  private caughtUp = true;

  /**
   * `maxLagMs`: the kubelet's bound for refreshing a ConfigMap volume (default syncFrequency 60 s +
   * margin); `now`: milliseconds on a monotonic clock.
   */
  constructor(private readonly maxLagMs: number, private readonly now: () => number = () => performance.now()) {}

  /** A snapshot from the API was published (or found already on disk): the volume is behind it again. */
  apiPublished(digest: string): void {
    if (this.lastApiDigest !== undefined && this.lastApiDigest !== digest) this.remember(this.lastApiDigest, Number.NEGATIVE_INFINITY);
    this.older.delete(digest);
    this.lastApiDigest = digest;
    this.lastApiPublishAt = this.now();
    this.caughtUp = false;
  }

  /** The volume showed `digest` while the API was in use: not newer than the API's version once the API is confirmed. */
  volumeSeen(digest: string): void {
    if (digest === this.lastApiDigest) this.caughtUp = true;
    else if (!this.older.has(digest)) this.remember(digest, this.now());
  }

  /** What the API delivered was current at `at` (same clock): what the volume showed before is not newer. */
  apiConfirmed(at: number): void {
    this.confirmedAt = Math.max(this.confirmedAt, at);
  }

  /** May a volume snapshot with `digest` be published now (the API being unusable)? */
  admitVolume(digest: string): VolumeDecision {
    if (this.lastApiDigest === undefined) return { publish: true, why: 'no-api-version' };
    if (this.caughtUp || digest === this.lastApiDigest) {
      this.caughtUp = true;
      return { publish: true, why: 'caught-up' };
    }
    const waitMs = this.lastApiPublishAt + this.maxLagMs - this.now();
    if (waitMs > 0) return { publish: false, why: 'within-lag', waitMs };
    if ((this.older.get(digest) ?? Number.POSITIVE_INFINITY) <= this.confirmedAt) return { publish: false, why: 'known-older', waitMs: 0 };
    this.caughtUp = true;
    return { publish: true, why: 'lag-elapsed' };
  }

  private remember(digest: string, seenAt: number): void {
    this.older.delete(digest);
    this.older.set(digest, seenAt);
    if (this.older.size > MAX_REMEMBERED) {
      const oldest = this.older.keys().next().value;
      if (oldest !== undefined) this.older.delete(oldest);
    }
  }
}

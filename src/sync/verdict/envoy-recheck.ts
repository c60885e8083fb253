// Meeting an Envoy that came back without a ConfigMap change. The watcher reads Envoy only around
// a publish, so a verdict Envoy could not give (it was down: OOMKilled, crash-looping; the verdict
// is `unknown`) left the file published with nothing said, and the Envoy the kubelet starts again
// loads it from disk: if it refuses it (a refused lds.yaml: no listener at all), nothing would see
// it until the next edit. So while such a file waits (tracker.ts `unjudged`), the watcher asks
// Envoy's counters on a backoff; the first answer of a new process judges those files and rolls a
// refused one back (envoy-restarted.ts). An answer from the same process (Envoy was up, only slow)
// ends the asking too: that process gave no verdict in time, and its counters cannot now tell
// which refusal was this file's; the next publish judges again.

/** First delay after an `unknown` verdict, ms. */
export const RECHECK_FIRST_MS = 1000;
/** Longest delay between two readings, ms: the kubelet restarts a crash-looping container after up to 5 min. */
export const RECHECK_MAX_MS = 30_000;

/** Delay before the `attempt`-th (0-based) reading since the loop began: 1 s, doubling, at most 30 s. */
export function recheckDelayMs(attempt: number): number {
  return Math.min(RECHECK_MAX_MS, RECHECK_FIRST_MS * 2 ** Math.min(attempt, 16));
}

export interface RecheckOptions {
  /** Whether a file still waits for Envoy (tracker.ts `unjudged`); asked before every reading. */
  due: () => boolean;
  /** One reading of Envoy's counters; resolves true when Envoy answered. Never rejects. */
  read: () => Promise<boolean>;
  /** The clock (tests pass their own): calls `run` after `ms`; returns a canceller. */
  after?: (ms: number, run: () => void) => () => void;
}

const realAfter = (ms: number, run: () => void): (() => void) => {
  const timer = setTimeout(run, ms);
  timer.unref(); // never what keeps the watcher alive
  return () => {
    clearTimeout(timer);
  };
};

/** The loop: `kick()` after an `unknown` verdict; reads until Envoy answers or nothing is due. */
export class EnvoyRecheck {
  private attempt = 0;
  private cancel: (() => void) | undefined;
  private reading = false;
  private stopped = false;

  constructor(private readonly options: RecheckOptions) {}

  /** Starts the loop unless it runs (a running loop keeps its backoff). */
  kick(): void {
    if (this.stopped || this.cancel !== undefined || this.reading) return;
    this.attempt = 0;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
    this.cancel = undefined;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.cancel = (this.options.after ?? realAfter)(recheckDelayMs(this.attempt++), () => {
      this.cancel = undefined;
      void this.tick();
    });
  }

  private async tick(): Promise<void> {
    if (this.stopped || !this.options.due()) return;
    this.reading = true;
    const answered = await this.options.read();
    this.reading = false;
    if (!answered) this.schedule();
  }
}

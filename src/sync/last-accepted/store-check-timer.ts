// When the --store-check read of the last-accepted store (store-check.ts) runs, and on which
// connection. Carried by the watch's --api-check (kube/configmap-watch.ts `companion`), it rides on
// the check's own short-lived connection whenever storeReadRides says so (every check with the
// defaults), so a Pod opens one connection per check period instead of one per read; a timer reads
// the store on a connection of its own only if no check carried it by its latest time
// (STORE_CHECK_LATEST × --store-check after the last: the API unreachable, a watch being renewed,
// an --api-check longer than that). Not carried (no watch), it reads on its own every
// --store-check × 1–1.5, as a timer alone; so it does over HTTP/2, where no check comes (the
// connection's PINGs replace them) and its reads are streams on the one connection.
import type { CheckCompanion } from '../kube/configmap-watch-options.js';
import { sessionOf, type KubeConnection, type KubeSession } from '../kube/connection.js';
import { STORE_CHECK_LATEST, storeReadRides } from './store-check.js';

export interface StoreCheckTimerOptions {
  connection: KubeConnection;
  /** --store-check (ms); 0 or less: never. */
  everyMs: number;
  /** Whether a check has anything to do now (the writer: it knows verdicts to compare, and is not writing). */
  wanted(): boolean;
  /** One store check, on `session` (its requests, in turn). */
  check(session: KubeSession): Promise<void>;
  /** A check that threw (its requests unanswered). */
  onError(err: unknown): void;
  random?: () => number;
  /** Milliseconds on a monotonic clock (default performance.now). */
  now?: () => number;
}

export class StoreCheckTimer {
  private lastAt: number;
  private timer: NodeJS.Timeout | undefined;
  private carried = false;
  private running = false;
  private stopped = false;
  private readonly now: () => number;
  /** Store checks so far: on a watch check's connection, on their own. */
  readonly stats = { carried: 0, alone: 0 };

  constructor(private readonly options: StoreCheckTimerOptions) {
    this.now = options.now ?? (() => performance.now());
    this.lastAt = this.now();
    this.schedule();
  }

  /** The watch's checks carry the store check from now on: the companion to give the ConfigMapWatch. */
  carry(): CheckCompanion {
    this.carried = true;
    this.schedule();
    return {
      rideAlong: (checkEveryMs) => !this.running && !this.stopped && this.options.wanted() && storeReadRides(this.now() - this.lastAt, this.options.everyMs, checkEveryMs),
      read: (session) => this.run(session, 'carried'),
    };
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    clearTimeout(this.timer);
    const every = this.options.everyMs;
    if (every <= 0 || this.stopped) return;
    // Over HTTP/2 no check comes to carry it (the connection's PINGs replace them): on its own.
    const carried = this.carried && this.options.connection.pings?.() !== true;
    const delay = carried ? this.lastAt + every * STORE_CHECK_LATEST - this.now() : every * (1 + (this.options.random ?? Math.random)() * (STORE_CHECK_LATEST - 1));
    this.timer = setTimeout(() => { void this.alone(); }, Math.max(0, delay)).unref();
  }

  /** Due, and no check carried it: on a connection of its own. */
  private async alone(): Promise<void> {
    if (this.running || this.stopped) return;
    if (!this.options.wanted()) {
      // Nothing to compare yet: counted as checked, so the timer does not fire at once again.
      this.lastAt = this.now();
      this.schedule();
      return;
    }
    const session = sessionOf(this.options.connection);
    try {
      await this.run(session, 'alone');
    } finally {
      session.end();
    }
  }

  private async run(session: KubeSession, how: 'carried' | 'alone'): Promise<void> {
    this.running = true;
    this.lastAt = this.now();
    clearTimeout(this.timer);
    this.stats[how]++;
    try {
      await this.options.check(session);
    } catch (err) {
      this.options.onError(err);
    } finally {
      this.running = false;
      this.schedule();
    }
  }
}

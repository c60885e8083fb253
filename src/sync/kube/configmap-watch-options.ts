// What a ConfigMapWatch (configmap-watch.ts) is given, and its defaults.
import type { Logger } from 'pino';
import type { ApiProblem } from './api-problem.js';
import type { ConfigMapEvent } from './configmap-object.js';
import type { KubeConnection, KubeSession } from './connection.js';
import type { BackoffPolicy } from './retry-backoff.js';

export interface ConfigMapWatchOptions {
  connection: KubeConnection;
  namespace: string;
  name: string;
  logger: Logger;
  onEvent(event: ConfigMapEvent): void;
  /** Usable (a list succeeded), or not with why: called on every failure (the caller says each cause once). */
  onAvailability(available: boolean, problem?: ApiProblem): void;
  /** What was delivered is what the apiserver held at `sentAt` (a list, or a check that found the watch current). */
  onConfirmed?(sentAt: number): void;
  /**
   * A check of the open watch was answered: undefined when with the ConfigMap, the problem when
   * refused (401, 403, 429, 5xx). A refused check does not end the watch: it still delivers.
   */
  onCheck?(refused: ApiProblem | undefined): void;
  /** Retry timing after a failure (retry-backoff.ts); defaults DEFAULT_BACKOFF. */
  backoff?: Partial<BackoffPolicy>;
  /** How often the watch is checked (ms, default 30 s; 0: never), and how long a check may go unanswered (default 10 s). */
  checkMs?: number;
  checkTimeoutMs?: number;
  /** A read that goes along with the check, on its connection, when it asks to (the last-accepted store's). */
  companion?: CheckCompanion;
  /**
   * Over HTTP/1.1: the check is left out while the watch hears the apiserver's BOOKMARKs, and nothing
   * heard for their period plus --api-timeout ends the connection (default true; bookmark-watchdog.ts).
   */
  bookmarkLiveness?: boolean;
  /** The apiserver's bookmark period (ms, default a minute: watch-liveness.ts); stand-in apiservers in tests shorten it. */
  bookmarkEveryMs?: number;
  /** The first check of each watch at a random point of its first period (default true; false: one period after the watch opened). */
  randomCheckPhase?: boolean;
  /**
   * Asked before a watch would resume from the last resourceVersion after a failure (watch-retry.ts):
   * false when something newer than the API's last version may have been published meanwhile (the
   * volume), which the resumed watch's replay of older edits would go back on: then it lists.
   */
  resumable?(): boolean;
  /**
   * Start by watching from this resourceVersion instead of listing (what a restarted reflector
   * does with a remembered resourceVersion). The apiserver answers 410 when it is too old.
   */
  resumeFrom?: string;
  /**
   * Each watch asks the apiserver to end it after this many seconds × (1 + random), as client-go's
   * reflector does (default MIN_WATCH_TIMEOUT_S, 300 s: 5–10 min); the watch is then resumed from
   * the last resourceVersion seen, on the same connection.
   */
  minWatchTimeoutS?: number;
  random?: () => number;
  /** Milliseconds on a monotonic clock (default performance.now). */
  now?: () => number;
}

/**
 * Another periodic read that rides on the check's connection when it is due (the last-accepted
 * store's --store-check: last-accepted/store-check-timer.ts), so a Pod opens one connection per
 * check period rather than one per read.
 */
export interface CheckCompanion {
  /** As a check is sent (checks every `checkEveryMs`): true to read along on its connection. */
  rideAlong(checkEveryMs: number): boolean;
  /** The read, on the check's connection once the check is answered; never throws. */
  read(session: KubeSession): Promise<void>;
}

export const DEFAULT_CHECK_MS = 30_000;
// client-go's reflector asks the apiserver to end each watch after 5-10 min (minWatchTimeout * (1+rand)).
export const MIN_WATCH_TIMEOUT_S = 300;
export const DEFAULT_CHECK_TIMEOUT_MS = 10_000;

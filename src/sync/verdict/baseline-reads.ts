// The requests for a pass's baseline (IO): sent when the watcher is told of a change, answered
// while the pass reads, and taken just before its first rename if it still qualifies (baseline.ts
// says when; the tracker, tracker.ts, hands the reading to every file the pass publishes).
import type { Logger } from 'pino';
import type { EnvoyAdmin } from '../envoy/admin.js';
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';
import { baselineSource } from './baseline.js';

const BASELINE_TIMEOUT_MS = 250;

export class BaselineReads {
  /** The baseline read for the pass being published (`beforeRenames`), until its files are tracked. */
  next: EnvoyCounters | undefined;
  /** The request sent when the watcher was told of a change (`send`), for that pass only. */
  private sent: { renames: number; answer: Promise<EnvoyCounters | undefined> } | undefined;

  constructor(private readonly logger: Logger) {}

  /** Sends the baseline request now (`renames`: renames into the target so far). Never throws. */
  send(admin: EnvoyAdmin, renames: number): void {
    const answer = admin.counters(BASELINE_TIMEOUT_MS).catch(() => undefined);
    this.sent = { renames, answer };
  }

  /** The pass the request was sent for has ended: it serves no other. */
  ended(): void {
    this.sent = undefined;
  }

  /**
   * Just before a pass's renames: the answer to the request sent for it if it qualifies, else a
   * request now, bounded by BASELINE_TIMEOUT_MS; `next` holds it (undefined: Envoy did not answer,
   * the last poll's stands in). Returns the reading. Never throws.
   */
  async before(admin: EnvoyAdmin | undefined, renamesNow: number): Promise<EnvoyCounters | undefined> {
    this.next = undefined;
    if (admin === undefined) return undefined;
    const sent = this.sent;
    this.sent = undefined;
    if (sent !== undefined && baselineSource(sent.renames, renamesNow) === 'sent') {
      // Envoy did not answer it: asking again would only double the wait (the last poll's stands in).
      this.next = await sent.answer;
      if (this.next === undefined) this.logger.debug("could not read Envoy's counters before the renames: the last poll's are the baseline");
      return this.next;
    }
    try {
      this.next = await admin.counters(BASELINE_TIMEOUT_MS);
    } catch (err) {
      this.logger.debug({ err }, "could not read Envoy's counters before the renames: the last poll's are the baseline");
    }
    return this.next;
  }
}

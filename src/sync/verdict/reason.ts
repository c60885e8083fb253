// Reading why Envoy refused a file, at the moment of the refusal: the listener manager's error
// states come from the admin API (envoy/admin.ts) and are replaced at Envoy's next LDS update, so
// they are read before the rollback. The rules that turn them into a reason are pure
// (envoy/rejection-reason.ts); this keeps the one piece of memory they need: what Envoy reported
// at the previous refusal of each LDS subscription.
import type { Logger } from 'pino';
import type { EnvoyAdmin, SubscriptionStats } from '../envoy/admin.js';
import { rejectionReason } from '../envoy/rejection-reason.js';
import type { ListenerError, RejectionReason } from '../envoy/rejection-reason.js';
import type { Subscription } from '../envoy/subscriptions.js';
import { baseFor, refusalKind } from './judge.js';

/** How long one admin API request of the verdict may take. */
export const REQUEST_TIMEOUT_MS = 1000;

export class ReasonReader {
  /** LDS stat prefix → the listener errors Envoy reported at its last refusal (emptied by an acceptance). */
  private readonly lastListenerErrors = new Map<string, ListenerError[]>();

  constructor(private readonly logger: Logger) {}

  /**
   * Why Envoy refused a file published at `publishedAtMs` (epoch ms) feeding `subscriptions`: from
   * the first subscription whose update_rejected or update_failure moved since `baseline`; for
   * LDS, the listener errors are read from `admin` now.
   */
  async why(
    admin: EnvoyAdmin | undefined,
    subscriptions: readonly Subscription[],
    refused: { publishedAtMs: number; baseline: ReadonlyMap<string, SubscriptionStats | undefined> },
    stats: ReadonlyMap<string, SubscriptionStats>,
  ): Promise<RejectionReason | undefined> {
    for (const s of subscriptions) {
      const now = stats.get(s.statPrefix);
      if (now === undefined) continue;
      const kind = refusalKind(baseFor(refused.baseline.get(s.statPrefix), now), now);
      if (kind === undefined) continue;
      let errors: ListenerError[] | undefined;
      if (s.type === 'LDS' && kind === 'rejected' && admin !== undefined) {
        errors = await admin.listenerErrors(REQUEST_TIMEOUT_MS).catch((err: unknown) => {
          this.logger.debug({ err }, "could not read Envoy's listener errors");
          return undefined;
        });
      }
      const why = rejectionReason({
        type: s.type,
        kind,
        path: s.path,
        publishedAtMs: refused.publishedAtMs,
        ...(errors === undefined ? {} : { errors }),
        previous: this.lastListenerErrors.get(s.statPrefix) ?? [],
      });
      if (errors !== undefined) this.lastListenerErrors.set(s.statPrefix, errors);
      return why;
    }
    return undefined;
  }

  /** An accepted LDS update replaced Envoy's listener errors with none. */
  accepted(subscriptions: readonly Subscription[]): void {
    for (const s of subscriptions) if (s.type === 'LDS') this.lastListenerErrors.set(s.statPrefix, []);
  }
}

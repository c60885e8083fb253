// Reading why Envoy refused a file, at the moment of the refusal: the listener manager's error
// states come from the admin API (envoy/admin.ts) and are replaced at Envoy's next LDS update, so
// they are read before the rollback. The rules that turn them into a reason are pure
// (envoy/rejection-reason.ts); this keeps the one piece of memory they need: what Envoy reported
// at the previous refusal of each LDS subscription.
import type { Logger } from 'pino';
import type { EnvoyAdmin } from '../envoy/admin.js';
import { envoyLogLine, rejectionReason } from '../envoy/rejection-reason.js';
import { subscriptionType } from '../envoy/stat-prefixes.js';
import { openedRefusal } from './messages.js';
import type { ListenerError, RefusalKind, RejectionReason } from '../envoy/rejection-reason.js';
import type { XdsType } from '../envoy/subscriptions.js';

/** How long one admin API request of the verdict may take. */
export const REQUEST_TIMEOUT_MS = 1000;

/** The subscription that refused, as the judge found it (judge.ts), and the path Envoy reads. */
export interface Refusal {
  statPrefix: string;
  type: XdsType;
  kind: RefusalKind;
  path: string;
}

export class ReasonReader {
  /** LDS stat prefix → the listener errors Envoy reported at its last refusal (emptied by an acceptance). */
  private readonly lastListenerErrors = new Map<string, ListenerError[]>();

  constructor(private readonly logger: Logger) {}

  /** Why Envoy refused a file published at `publishedAtMs` (epoch ms); for LDS, the listener errors are read from `admin` now. */
  async why(admin: EnvoyAdmin | undefined, refusal: Refusal, publishedAtMs: number): Promise<RejectionReason> {
    let errors: ListenerError[] | undefined;
    if (refusal.type === 'LDS' && refusal.kind === 'rejected' && admin !== undefined) {
      errors = await admin.listenerErrors(REQUEST_TIMEOUT_MS).catch((err: unknown) => {
        this.logger.debug({ err }, "could not read Envoy's listener errors");
        return undefined;
      });
    }
    const why = rejectionReason({
      type: refusal.type,
      kind: refusal.kind,
      path: refusal.path,
      publishedAtMs,
      ...(errors === undefined ? {} : { errors }),
      previous: this.lastListenerErrors.get(refusal.statPrefix) ?? [],
    });
    if (errors !== undefined) this.lastListenerErrors.set(refusal.statPrefix, errors);
    return why;
  }

  /**
   * Why Envoy refused `refused` (published at `publishedAtMs`), from the judgement (judge.ts): a file a
   * secret reads, a subscription the edit opened, or the file's own subscription (then `why`).
   * `pathOf`: the path Envoy reads a file at.
   */
  async refused(
    admin: EnvoyAdmin | undefined,
    refused: { file: string; publishedAtMs: number; secret?: unknown },
    judgement: { subscription: string; kind: RefusalKind; created?: { file: string; route?: string } },
    pathOf: (file: string) => string,
  ): Promise<RejectionReason> {
    if (refused.secret !== undefined) {
      return {
        reason: `Envoy could not load the certificate and key its secret reads with this ${refused.file} (${judgement.subscription}.key_rotation_failed): it keeps serving the previous ones`,
        fromCounters: true,
        envoyLog: 'Failed to reload certificates',
      };
    }
    if (judgement.created !== undefined) {
      const { file, route } = judgement.created;
      return { reason: openedRefusal(refused.file, judgement.subscription, file, route), fromCounters: true, envoyLog: route === undefined ? envoyLogLine(judgement.kind, pathOf(file)) : `Unexpected RDS configuration (expecting ${route})` };
    }
    const type = subscriptionType(judgement.subscription) ?? 'LDS';
    return this.why(admin, { statPrefix: judgement.subscription, type, kind: judgement.kind, path: pathOf(refused.file) }, refused.publishedAtMs);
  }

  /** Envoy restarted: the new process has none of the old one's listener errors (envoy-process.ts). */
  forget(): void {
    this.lastListenerErrors.clear();
  }

  /** An accepted LDS update replaced Envoy's listener errors with none. */
  accepted(statPrefixes: readonly string[]): void {
    for (const prefix of statPrefixes) if (prefix === 'listener_manager.lds') this.lastListenerErrors.set(prefix, []);
  }
}

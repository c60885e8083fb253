// An SDS file judged with a pass that did not rename it (newly-read.ts: read anew, or its refused
// content kept published while the pass renamed a file it names or naming it, refused-kept.ts), pure. Measured on
// 1.40 (corpus sequence new-tls-listener-sds): a new TLS listener's new sds.yaml whose cert.pem and
// key.pem do not match is refused (sds.server_cert: update_attempt 1, update_rejected 1,
// version_text ''), and lds.yaml is put back; the removed listener drains (600 s by default) and
// keeps its SdsApi. When the matching pair and lds.yaml are published again, the new listener
// shares that SdsApi: its subscription counts nothing more (attempt 1, success 0, version_text ''),
// while the SdsApi's own watch on the files it reads (SdsApi::onWatchUpdate) re-reads them: two
// key_rotation_failed (the certificate renamed before its key), ssl_context_update_by_sds counted,
// the config dump's dynamic_active_secrets lists server_cert at sds.yaml's version with the new
// certificate, and the listener serves it. So the subscription's counters cannot say whether Envoy
// took the content; its Secret's re-read does, as for a certificate or key (pending.ts
// judgeSecretFile). A subscription that opens anew (the listener drained, its SdsApi gone) counts
// an update_attempt and is judged by its counters (judge.ts).
import { subscriptionType } from '../envoy/stat-prefixes.js';
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';
import { ofSameProcess } from './envoy-process.js';

export interface RereadInput {
  /** The pass that tracked the file did not rename it (Pending.notRenamed). */
  notRenamed: boolean;
  /** The file's stats scopes (attribution.ts). */
  own: readonly string[];
  /** Envoy's counters just before the pass's renames (undefined: not read; nothing to compare). */
  baseline: EnvoyCounters | undefined;
  now: EnvoyCounters;
  /** The answer came to a request sent after every rename of the pass. */
  afterRenames: boolean;
}

/**
 * Whether the file is judged through its Secret's re-read (above): not renamed by the pass, read
 * only by SDS subscriptions, each of which Envoy had before the pass and counted no update_attempt
 * since, in an answer sent after the pass's renames. Pure.
 */
export function judgedBySecretReread(input: RereadInput): boolean {
  const { own, now } = input;
  const baseline = ofSameProcess(input.baseline, now); // a restarted Envoy counts from zero: nothing to compare
  if (!input.notRenamed || !input.afterRenames || baseline === undefined || own.length === 0) return false;
  return own.every((prefix) => {
    const before = baseline.subscriptions.get(prefix);
    const current = now.subscriptions.get(prefix);
    return subscriptionType(prefix) === 'SDS' && before !== undefined && current?.attempt === before.attempt;
  });
}

/**
 * What an accepted line adds for an SDS file taken through its Secret's re-read (`own`: its
 * subscriptions; `files`: the files its Secret reads): why Envoy's counters do not show its version.
 */
export function rereadNote(own: readonly string[], files: readonly string[]): string {
  const subscriptions = own.length === 1 ? `its subscription ${own[0] ?? ''}` : `its subscriptions ${own.join(', ')}`;
  return `; ${subscriptions} counted nothing (its version_text stays as it was): Envoy kept it for a listener, re-read ${files.join(', ')} and serves the Secret's certificate`;
}

// Who hears what the watcher decides, besides its log: Kubernetes Events regarding the Pod
// (kube/pod-events.ts) and the last-accepted store (last-accepted/writer.ts). `source: api` only;
// loaded lazily with it (src/cli/watch.ts), so volume Pods never load API code.
// - Envoy's verdict on each publish (accepted / rejected / rolled back / unknown) becomes an Event
//   and goes to the store.
// - A file the gate refuses never reaches Envoy, so it gets its own Event (XdsInvalid), once per
//   refused content, not on every resync.
// - A verdict's Event says which ConfigMap resourceVersion the content judged was published from
//   (a verdict on a version replaced before it came names that version's, not the newer one's).
import type { EventOccurrence } from '../kube/event-series.js';
import { PodEventRecorder, capMessage } from '../kube/pod-events.js';
import type { LastAcceptedWriter } from '../last-accepted/writer.js';
import type { SyncResult } from '../publish/syncer.js';
import type { Verdict } from '../verdict/verdict.js';

/** A verdict as its Event tells it: the version Envoy was given (content-derived; see docs/api-source.md for resourceVersion). */
export type VerdictRecord = Pick<Verdict, 'file' | 'previousVersion' | 'outcome' | 'rolledBack' | 'latencyMs' | 'message' | 'reason' | 'envoyLog' | 'ignoredFields' | 'strandedRoutes'> & {
  version: string;
  /** The ConfigMap's resourceVersion the file came from, when it came through the API. */
  resourceVersion?: string;
};

export const EventReason = {
  accepted: 'XdsAccepted',
  /**
   * Accepted, but Envoy ignored fields it does not know (a misspelt or unsupported setting is not
   * applied), or a route still names a cluster the accepted cds.yaml removed (routes-stranded.ts).
   */
  acceptedWithWarnings: 'XdsAcceptedWithWarnings',
  rejected: 'XdsRejected',
  rolledBack: 'XdsRolledBack',
  unknown: 'XdsVerdictUnknown',
  /** Refused by the watcher's gate: never published, the last good file stays. */
  invalid: 'XdsInvalid',
  /** A file Envoy reads only when it builds its reader, changed alone: held back (publish/read-once.ts). */
  heldBack: 'XdsHeldBack',
} as const;


/**
 * The Event for a verdict: reason, type and a one-line message with file, version and latency, and
 * for a rejection Envoy's reason or the log line to grep (from the verdict's message); at most
 * EVENT_MESSAGE_MAX characters.
 */
export function verdictOccurrence(verdict: VerdictRecord): EventOccurrence {
  const warned = (verdict.ignoredFields ?? 0) > 0 || (verdict.strandedRoutes?.length ?? 0) > 0;
  const reason = verdict.rolledBack
    ? EventReason.rolledBack
    : verdict.outcome === 'accepted'
      ? warned
        ? EventReason.acceptedWithWarnings
        : EventReason.accepted
      : verdict.outcome === 'rejected'
        ? EventReason.rejected
        : EventReason.unknown;
  const parts = [`${verdict.file} version ${verdict.version}`];
  if (verdict.resourceVersion !== undefined) parts.push(`ConfigMap resourceVersion ${verdict.resourceVersion}`);
  if (verdict.latencyMs !== undefined) parts.push(`after ${String(Math.round(verdict.latencyMs))} ms`);
  if (verdict.rolledBack && verdict.previousVersion !== undefined) parts.push(`rolled back to ${verdict.previousVersion}`);
  return {
    type: verdict.outcome === 'accepted' && !verdict.rolledBack && !warned ? 'Normal' : 'Warning',
    reason,
    file: verdict.file,
    message: capMessage(`${parts.join(', ')}: ${verdict.message}`),
  };
}

/** The Pod's Events recorder, which also records verdicts. */
export class EventRecorder extends PodEventRecorder {
  verdict(verdict: VerdictRecord): void {
    this.record(verdictOccurrence(verdict));
  }
}

/** Publishes remembered per file to name the resourceVersion of the content a verdict judged. */
const PUBLISHES_KEPT = 8;

/** `watch`'s `onPass` and `onVerdict` for `source: api`: Events and the last-accepted store. */
export class Reporters {
  /** file → the XdsInvalid message last recorded (once per refused content). */
  private readonly refused = new Map<string, string>();
  /** file → sha256 of the read-once content last told as held back (XdsHeldBack, once per content). */
  private readonly heldBack = new Map<string, string>();
  /** file → its latest publishes (sha256 of the stamped content, the ConfigMap resourceVersion), newest last. */
  private readonly publishedFrom = new Map<string, { sha256: string; resourceVersion: string | undefined }[]>();

  constructor(private readonly recorder: EventRecorder | undefined, private readonly lastAccepted: LastAcceptedWriter | undefined) {}

  readonly onPass = (result: SyncResult): void => {
    for (const file of result.published) {
      this.refused.delete(file);
      const sha256 = result.stamped.get(file)?.sha256;
      if (sha256 === undefined) continue;
      // A few: a verdict comes after the next publish at most a few publishes late (superseded.ts).
      const kept = (this.publishedFrom.get(file) ?? []).filter((p) => p.sha256 !== sha256).slice(-(PUBLISHES_KEPT - 1));
      this.publishedFrom.set(file, [...kept, { sha256, resourceVersion: result.resourceVersion }]);
    }
    if (this.recorder === undefined) return;
    const from = result.resourceVersion === undefined ? 'from the volume' : `ConfigMap resourceVersion ${result.resourceVersion}`;
    for (const error of result.rejected) {
      const message = `${error.file} not published, the last good version stays (${from}): ${error.message}${error.line === undefined ? '' : ` at line ${String(error.line)}`}`;
      if (this.refused.get(error.file) === message) continue;
      this.refused.set(error.file, message);
      this.recorder.record({ type: 'Warning', reason: EventReason.invalid, file: error.file, message });
    }
    for (const name of [...this.heldBack.keys()]) if (!result.heldBack.some((held) => held.name === name)) this.heldBack.delete(name);
    for (const held of result.heldBack) {
      if (this.heldBack.get(held.name) === held.sha256) continue;
      this.heldBack.set(held.name, held.sha256);
      this.recorder.record({ type: 'Warning', reason: EventReason.heldBack, file: held.name, message: capMessage(`${held.message} (${from})`) });
    }
  };

  readonly onVerdict = (verdict: Verdict): void => {
    this.lastAccepted?.record(verdict);
    // The publish of the content judged; none known (published before a restart, or long ago): no resourceVersion.
    const resourceVersion = this.publishedFrom.get(verdict.file)?.findLast((p) => p.sha256 === verdict.sha256)?.resourceVersion;
    this.recorder?.verdict({
      ...verdict,
      version: verdict.version ?? 'unversioned',
      ...(resourceVersion === undefined ? {} : { resourceVersion }),
    });
  };
}

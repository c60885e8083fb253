// The verdict's shapes, in one place: what Envoy decided about one publish, as the tracker hands
// it to its listeners (log, Events, the last-accepted store) and as the state file keeps it.
import type { RejectionReason, SchemaSees } from '../envoy/rejection-reason.js';
import type { IgnoredWhen } from './messages.js';
import type { StrandedRoutes } from './routes-stranded.js';

export type Outcome = 'accepted' | 'rejected' | 'unknown';

/** What every form of a verdict says (the listeners' `Verdict`, state.json's `verdict`, the Event's record). */
export interface VerdictFacts {
  outcome: Outcome;
  /** The last accepted version was put back on disk (rejected only). */
  rolledBack: boolean;
  /** accepted/rejected: ms from the rename to the admin answer that decided it. */
  latencyMs?: number;
  message: string;
  /** rejected: Envoy's reason from its admin API (bounded, envoy/rejection-reason.ts), when it reports one (LDS only). */
  reason?: string;
  /** rejected: `reason` may be an earlier refusal's (Envoy gave no time to tell). */
  reasonPossiblyEarlier?: boolean;
  /** rejected: `reason` is the watcher's reading of Envoy's counters, not Envoy's words (rejection-reason.ts `fromCounters`). */
  reasonFromCounters?: true;
  /** rejected: Envoy took it, but it goes back with this CDS file, which Envoy refused (clusters-gone.ts): not Envoy's refusal of it. */
  withdrawnWith?: string;
  /**
   * rejected, no version accepted before it (nothing put back): no published file names it
   * (named-on-disk.ts readByNothing), so Envoy does not use it (unused-refused.ts).
   */
  namedByNone?: true;
  /** rejected: the start of Envoy's log line that has the full error (grep Envoy's log for it). */
  envoyLog?: string;
  /** rejected: whether a schema check sees this kind of refusal (rejection-reason.ts), when one does. */
  schema?: SchemaSees;
  /** rejected, with `schema`: the `validate` command the message gives (validate-hint.ts), for `status` to say the same. */
  validate?: string;
  /** accepted: fields Envoy ignored in this update (`server.dynamic_unknown_fields` moved), when any. */
  ignoredFields?: number;
  /**
   * accepted with `ignoredFields`: the files Envoy loaded together (at start, or as this file's
   * change), any of which may hold the fields (its count does not say which); absent when the count
   * is this file's own.
   */
  ignoredAmong?: string[];
  /** With `ignoredAmong`: whether Envoy loaded those files at start or as one change (messages.ts IgnoredWhen). */
  ignoredWhen?: IgnoredWhen;
  /**
   * accepted CDS: the published route files that still name a cluster this version removed and
   * Envoy no longer has (routes-stranded.ts): Envoy answers 503 there, a restarted Envoy would refuse them.
   */
  strandedRoutes?: StrandedRoutes[];
}

/** One verdict, as logged and as handed to `onVerdict` listeners. */
export interface Verdict extends VerdictFacts {
  /** ConfigMap key (file name in the target directory). */
  file: string;
  /** The version judged, as Envoy reports it (`version_info`); undefined if the file carries none. */
  version: string | undefined;
  /** sha256 (hex) of the content judged, as published (stamped). */
  sha256: string;
  /** The last version Envoy accepted before this one, if any. */
  previousVersion?: string;
}

export type VerdictListener = (verdict: Verdict) => void;

/** The Verdict's (and log line's) reason fields, only those set. */
export function reasonFieldsOf(why: RejectionReason | undefined): Pick<VerdictFacts, 'reason' | 'reasonPossiblyEarlier' | 'reasonFromCounters' | 'envoyLog'> {
  if (why === undefined) return {};
  return {
    ...(why.reason === undefined ? {} : { reason: why.reason }),
    ...(why.possiblyEarlier === true ? { reasonPossiblyEarlier: true } : {}),
    ...(why.fromCounters === true ? { reasonFromCounters: true as const } : {}),
    envoyLog: why.envoyLog,
  };
}

/** The `validate` a rejection's message gives (`schema` and the command), only when a schema check sees it. */
export function validateFieldsOf(why: RejectionReason | undefined, validate: string): Pick<VerdictFacts, 'schema' | 'validate'> {
  return why?.schema === undefined ? {} : { schema: why.schema, validate };
}

/**
 * The verdict in its two forms, built from one set of facts: as handed to listeners, and as
 * state.json keeps it (`at`: ISO time). `latencyMs` is left out of an `unknown` verdict.
 */
export function verdictForms(judged: { file: string; version: string | undefined; sha256: string; previousVersion: string | undefined; at: string }, facts: VerdictFacts): {
  verdict: Verdict;
  kept: VerdictFacts & { version?: string; at: string };
} {
  const { file, version, sha256, previousVersion, at } = judged;
  const { outcome, rolledBack, message } = facts;
  const latency = outcome === 'unknown' || facts.latencyMs === undefined ? {} : { latencyMs: facts.latencyMs };
  const why = {
    ...(facts.reason === undefined ? {} : { reason: facts.reason }),
    ...(facts.reasonPossiblyEarlier === undefined ? {} : { reasonPossiblyEarlier: facts.reasonPossiblyEarlier }),
    // The watcher's reading of counters: `status` must not call it Envoy's words.
    ...(facts.reasonFromCounters === undefined ? {} : { reasonFromCounters: facts.reasonFromCounters }),
    ...(facts.envoyLog === undefined ? {} : { envoyLog: facts.envoyLog }),
    ...(facts.schema === undefined || facts.validate === undefined ? {} : { schema: facts.schema, validate: facts.validate }),
    ...(facts.withdrawnWith === undefined ? {} : { withdrawnWith: facts.withdrawnWith }),
    ...(facts.namedByNone === undefined ? {} : { namedByNone: facts.namedByNone }),
  };
  const warnings = facts.ignoredFields === undefined || facts.ignoredFields === 0
    ? {}
    : { ignoredFields: facts.ignoredFields, ...(facts.ignoredAmong === undefined ? {} : { ignoredAmong: [...facts.ignoredAmong], ignoredWhen: facts.ignoredWhen ?? 'start' }) };
  const stranded = facts.strandedRoutes === undefined || facts.strandedRoutes.length === 0 ? {} : { strandedRoutes: facts.strandedRoutes.map((s) => ({ file: s.file, clusters: [...s.clusters], ...(s.unchecked === true ? { unchecked: true as const } : {}) })) };
  return {
    kept: { outcome, ...(version === undefined ? {} : { version }), at, ...latency, rolledBack, message, ...why, ...warnings, ...stranded },
    verdict: { file, version, sha256, ...(previousVersion === undefined ? {} : { previousVersion }), outcome, rolledBack, ...latency, message, ...why, ...warnings, ...stranded },
  };
}

/** Hands a verdict to every listener; one that throws is logged and the others still hear it. */
export function tell(listeners: readonly VerdictListener[], verdict: Verdict, onError: (err: unknown) => void): void {
  for (const listener of listeners) {
    try {
      listener(verdict);
    } catch (err) {
      onError(err);
    }
  }
}

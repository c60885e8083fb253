// Why Envoy refused a file: what Envoy 1.40 tells its admin API, and where its log says the rest.
//
// Found by reading Envoy's source and running the official 1.40 binary (test/envoy/verdict-reason.test.ts):
// - A file subscription (`path_config_source`) keeps no error text. It counts `update_failure` when
//   the file does not parse into a DiscoveryResponse (JSON → proto: bad duration, unknown @type...)
//   and `update_rejected` when a decoded resource fails proto validation or the xDS API refuses it;
//   the text goes only to Envoy's log, as `Filesystem config update failure: in <path>, <error>` or
//   `Filesystem config update rejected: <error>`
//   (source/extensions/config_subscription/filesystem/filesystem_subscription_impl.cc).
// - Only the listener manager keeps a reason, and only for refusals the LDS API itself makes
//   (duplicate names, a listener that cannot be built): `/config_dump` ListenersConfigDump
//   `dynamic_listeners[].error_state.details`, per listener name with `last_update_attempt`, plus
//   one entry without a name or time per refused listener (LdsApiImpl::onConfigUpdate's failure
//   states). They are replaced at the next update the LDS API sees, so a later parse failure leaves
//   the older ones in place. `error_state` of clusters, routes and endpoints is
//   `[#not-implemented-hide:]` in api/envoy/admin/v3/config_dump_shared.proto: CDS, RDS and EDS
//   refusals have no reason outside the log.
import type { XdsType } from './subscriptions.js';

/** One `error_state` of ListenersConfigDump.dynamic_listeners. */
export interface ListenerError {
  /** The listener's name; absent on the LDS API's own entries. */
  name?: string;
  details: string;
  /** `last_update_attempt` as epoch ms; absent on the LDS API's own entries. */
  at?: number;
}

/** Which counter of the subscription moved: `update_failure` (did not parse) or `update_rejected`. */
export type RefusalKind = 'failure' | 'rejected';

export interface RejectionReason {
  /** Envoy's own words from its admin API, bounded to `REASON_MAX_CHARS`; undefined when Envoy's admin API gives none. */
  reason?: string;
  /**
   * `reason` is the watcher's reading of Envoy's counters (a subscription the edit opened refused
   * its file, a secret's certificate Envoy could not load), not Envoy's words: said as such.
   */
  fromCounters?: true;
  /** The listeners Envoy refused in this update, by name (its named error states of this publish); absent when Envoy names none. */
  listeners?: string[];
  /** Envoy's error text per listener of `listeners` (`error_state.details`, unbounded), to tell which error refused which listener. */
  details?: Record<string, string>;
  /** The reason is what Envoy reported for an earlier refusal too, and Envoy gives no time to tell them apart. */
  possiblyEarlier?: boolean;
  /** The text that starts Envoy's log line with the full error: grep Envoy's log for it. */
  envoyLog: string;
  /**
   * Whether a schema check (`validate`) sees this kind of refusal: `sees` when Envoy refused the
   * file before its xDS API looked at it (it did not parse, or failed proto validation);
   * `if-constraint` when only Envoy's log tells (CDS, RDS, EDS keep no reason: "Proto constraint
   * validation failed" there is one); undefined when the xDS API refused it (a duplicate listener,
   * a listener it cannot build), which no schema sees.
   */
  schema?: SchemaSees;
}

export type SchemaSees = 'sees' | 'if-constraint';

/** Bound on `reason`: it goes into a log line, state.json and a Kubernetes Event message (1 KiB). */
export const REASON_MAX_CHARS = 480;
/** `last_update_attempt` is Envoy's wall clock rounded to ms: the same clock as ours, give it a little slack. */
export const CLOCK_SLACK_MS = 50;

/** `text` cut to `max` characters, an ellipsis marking the cut. */
export function bound(text: string, max = REASON_MAX_CHARS): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/**
 * The start of the line Envoy logs (at warning) when it refuses `path` this way: the full error
 * follows it in Envoy's log. From filesystem_subscription_impl.cc (Envoy 1.40). A `path` that is
 * not absolute is a guess (no bootstrap: the file name only) and is left out, so the text stays a
 * literal part of Envoy's line.
 */
export function envoyLogLine(kind: RefusalKind, path: string): string {
  if (kind === 'rejected') return 'Filesystem config update rejected';
  return path.startsWith('/') ? `Filesystem config update failure: in ${path}` : 'Filesystem config update failure';
}

/**
 * The reason for a refusal of a file of subscription `type` published at `publishedAtMs` (epoch ms),
 * given the listener errors Envoy reports now (`errors`, LDS only) and those it reported at the
 * previous refusal of this LDS file (`previous`; empty after an accepted version, which clears them).
 *
 * Envoy's LDS error states belong to the last update the LDS API saw. They are this publish's when a
 * named entry's `last_update_attempt` is not older than the publish; they are an earlier one's when
 * it is older (this file then failed before the LDS API: proto validation). Without a named entry
 * (duplicate names) there is no time: entries unchanged since the previous refusal are reported
 * with `possiblyEarlier`. `errors` undefined: they could not be read.
 */
export function rejectionReason(opts: {
  type: XdsType;
  kind: RefusalKind;
  path: string;
  publishedAtMs: number;
  errors?: readonly ListenerError[];
  previous?: readonly ListenerError[];
}): RejectionReason {
  const envoyLog = envoyLogLine(opts.kind, opts.path);
  // update_failure: the file did not parse into a DiscoveryResponse (JSON → proto: a wrong type, a
  // bad duration, an unknown @type), which is what a schema check reads.
  if (opts.kind === 'failure') return { envoyLog, schema: 'sees' };
  // CDS, RDS, EDS keep no reason; nor does an LDS whose listener errors could not be read.
  if (opts.type !== 'LDS' || opts.errors === undefined) return { envoyLog, schema: 'if-constraint' };
  const errors = opts.errors;
  // No error state of this update: refused while decoding, before the LDS API (proto validation).
  if (errors.length === 0) return { envoyLog, schema: 'sees' };
  const named = errors.filter((e) => e.name !== undefined && e.at !== undefined);
  const ofThisPublish = named.filter((e) => (e.at ?? 0) >= opts.publishedAtMs - CLOCK_SLACK_MS);
  let possiblyEarlier = false;
  if (named.length > 0) {
    if (ofThisPublish.length === 0) return { envoyLog, schema: 'sees' };
  } else {
    const key = (list: readonly ListenerError[]): string => list.map((e) => e.details).sort().join('\n');
    possiblyEarlier = (opts.previous ?? []).length > 0 && key(opts.previous ?? []) === key(errors);
  }
  // The LDS API repeats each named error without its name: say each text once, with its listener.
  const texts = new Map<string, string>();
  for (const e of named) texts.set(e.details, `listener ${e.name ?? ''}: ${e.details}`);
  for (const e of errors) if (!texts.has(e.details)) texts.set(e.details, e.details);
  const listeners = [...new Set(ofThisPublish.map((e) => e.name ?? ''))];
  const details = Object.fromEntries(ofThisPublish.map((e) => [e.name ?? '', e.details]));
  return { reason: bound([...texts.values()].join('; ')), ...(listeners.length > 0 ? { listeners, details } : {}), ...(possiblyEarlier ? { possiblyEarlier } : {}), envoyLog };
}

/**
 * The one sentence that says why Envoy refused a file, in the verdict's log line, its Event and
 * `status`: Envoy's own words when its admin API gave them, else the start of Envoy's log line to
 * grep for; undefined when neither is known.
 */
export function refusalSentence(why: { reason?: string | undefined; possiblyEarlier?: boolean | undefined; envoyLog?: string | undefined; fromCounters?: true | undefined }): string | undefined {
  if (why.reason !== undefined && why.fromCounters === true) return `From Envoy's counters: ${why.reason}`;
  if (why.reason !== undefined) return `Envoy says${why.possiblyEarlier === true ? ' (about this or an earlier refused version)' : ''}: ${why.reason}`;
  // -A 60: the error follows the line, after the resource Envoy prints first (proto constraints).
  if (why.envoyLog !== undefined) return `Envoy's admin API does not say why; Envoy's log does: grep -A 60 "${why.envoyLog}"`;
  return undefined;
}

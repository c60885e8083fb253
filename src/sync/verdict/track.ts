// Which published files wait for Envoy's verdict, and what each is judged with: the Pending handed
// to the poll loop (poll.ts) for a file Envoy may read (judged-by.ts), with the baseline to judge
// it against. Apart from tracker.ts, which calls it after a pass's renames, at start and when a
// refused file is renamed again.
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';
import type { PublishedFile } from '../publish/syncer.js';
import { judgedBy, type JudgedBy } from './judged-by.js';
import { newPending } from './pending.js';
import type { Poller } from './poll.js';
import { readerPublish, withResources } from './read-once-verdict.js';
import type { RefusedBefore } from './refusal-cause.js';
import type { VerdictState } from './state.js';
import type { SubscriptionMap } from './subscription-map.js';

export interface TrackContext {
  subscriptions: SubscriptionMap;
  poller: Poller;
  /** Its `accepted` version is each Pending's previous version. */
  state: VerdictState;
}

/** The baseline to judge against; `retried`: the same content renamed again after a refusal while others were on their way (in-flight.ts). */
export interface Given {
  baseline: EnvoyCounters | undefined;
  retried: boolean;
  refusedBefore?: RefusedBefore;
  /** The subscriptions the first rename of the same content opened (judge.ts `opened`). */
  opened?: ReadonlySet<string>;
  /** Judged with a pass that did not rename it (newly-read.ts): Pending.notRenamed. */
  notRenamed?: boolean;
  /** Its refused content stays published (refused-kept.ts): Pending.refusedKept. */
  refusedKept?: boolean;
}

/** Tracks each of `files` Envoy may read (judged-by.ts), those read through a resource after the publish they are judged with. */
export function trackAll(ctx: TrackContext, files: readonly PublishedFile[], timeoutMs: number, initial: boolean, baseline?: EnvoyCounters): void {
  const judged = files.map((file) => ({ file, by: judgedBy(ctx.subscriptions, file.name) }));
  const given = initial ? undefined : { baseline, retried: false };
  for (const { file, by } of judged) if (by !== undefined && by.by !== 'reader') track(ctx, file, timeoutMs, initial, by, given);
  for (const { file, by } of judged) if (by?.by === 'reader') track(ctx, file, timeoutMs, initial, by, given);
}

/**
 * Tracks `file` for a verdict within `timeoutMs` of its rename; `initial`: found on disk at start.
 * `by`: what judges it (judged-by.ts; a file read through a resource is tracked only with a
 * publish of its reader pending); `given`: the baseline to judge against (none: found at start).
 */
export function track(ctx: TrackContext, file: PublishedFile, timeoutMs: number, initial: boolean, by: JudgedBy, given?: Given): void {
  const { poller, subscriptions } = ctx;
  const reader = by.by === 'reader' ? readerPublish(by.readers, poller.pending) : undefined;
  if (by.by === 'reader' && reader === undefined) return;
  const entry = (ctx.state.files[file.name] ??= {});
  poller.add(newPending(file, {
    previousVersion: entry.accepted?.version,
    // Files found at start were loaded by Envoy before anything was read: counted from zero.
    baseline: given?.baseline,
    names: subscriptions.names(file.name),
    deadline: file.at + timeoutMs,
    initial,
    inFlight: poller.othersInFlight(file.name),
    retried: given?.retried === true,
    refusedBefore: given?.refusedBefore,
    opened: given?.opened,
    ...(given?.notRenamed === true ? { notRenamed: true } : {}),
    ...(given?.refusedKept === true ? { refusedKept: true } : {}),
    ...(by.by === 'secret' ? { secret: by.secret } : {}),
    ...(reader === undefined ? {} : { reader: withResources(reader, subscriptions.readOnceReaders(file.name)) }),
  }));
}

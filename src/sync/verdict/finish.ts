// Carrying out a verdict the poll loop (poll.ts) reached: for a refusal, Envoy's reason (read once
// for the file and its riders) and which other keys could change it (refusal-cause.ts); then the
// file and the files judged with it (its riders, read-once-verdict.ts) concluded (conclude.ts) in
// order: a refused reader's riders before it (their rollback lands first), after it otherwise.
import type { RejectionReason } from '../envoy/rejection-reason.js';
import { subscriptionType } from '../envoy/stat-prefixes.js';
import type { Conclusions, Decided } from './conclude.js';
import type { Judgement } from './judge.js';
import type { Pending } from './pending.js';
import { riderBlame, type Rider } from './read-once-verdict.js';
import { riderDecided } from './rider-decided.js';
import { dependsOnKeys, type OtherFile, type RefusalCause } from './refusal-cause.js';
import type { SubscriptionMap } from './subscription-map.js';

export interface FinishContext {
  subscriptions: SubscriptionMap;
  conclusions: Conclusions;
  /** Riders of an accepted reader publish whose reader Envoy kept as it runs (reader-kept.ts): rider → the messages. */
  readersKept?: (reader: Pending, riders: readonly Pending[]) => Promise<ReadonlyMap<string, { withReader: string; held: string }>>;
}

/** `file` as refusal-cause.ts sees another file of a refusal of `refused` (OtherFile, without `present`). */
export function otherFile(subscriptions: SubscriptionMap, file: string, refused: string): OtherFile {
  const secrets = subscriptions.readAs(file).has('SDS') || subscriptions.secretReaders(file).sdsFiles.length > 0;
  return { file, clusters: readAsCds(subscriptions, file), namesIt: subscriptions.names(file).includes(refused), secrets };
}

/** Envoy reads `file` as CDS: a cluster it adds may be what a refused route names (refusal-cause.ts OtherFile). */
export function readAsCds(subscriptions: SubscriptionMap, file: string): boolean {
  return subscriptions.readAs(file).has('CDS');
}

/**
 * What tells which other files could change Envoy's refusal of `pending` (refusal-cause.ts). A
 * refusal by a subscription this edit opened (judge.ts `created`) is that subscription's refusal of
 * the file it read: what could change it is that file and what its type depends on (the clusters,
 * for all but CDS), not every other file of the change. Measured on 1.40: a cds.yaml adding an EDS
 * cluster whose new eds.yaml Envoy refuses, published with an lds.yaml, was set aside for
 * lds.yaml too, renamed again once lds.yaml was accepted, and then judged accepted.
 */
export function causeOf(subscriptions: SubscriptionMap, pending: Pending, judgement: Extract<Judgement, { outcome: 'rejected' }>, why: RejectionReason | undefined): RefusalCause {
  const readOnce = pending.names.some((name) => subscriptions.readOnceReaders(name).length > 0);
  const linked = pending.secret !== undefined || pending.reader !== undefined || readOnce;
  return { type: subscriptionType(judgement.subscription), kind: judgement.kind, why, names: namedWith(subscriptions, pending.names, judgement.created?.file), linked };
}

/**
 * `names`, with the file an opened subscription refused and every file it names in turn (an SDS
 * file's certificate and key: their content is what that subscription refused).
 */
function namedWith(subscriptions: SubscriptionMap, names: readonly string[], created: string | undefined): string[] {
  if (created === undefined) return [...names];
  const all = new Set(names);
  const next = [created];
  for (let file = next.pop(); file !== undefined; file = next.pop()) {
    if (all.has(file) && file !== created) continue;
    all.add(file);
    next.push(...subscriptions.names(file).filter((named) => !all.has(named)));
  }
  return [...all];
}

/**
 * The keys whose change could change a refusal of `pending`, as dependsOnKeys reads them: the
 * ConfigMap it was published with, or for a file found on disk at start (published by `copy` or a
 * watcher before this one: no ConfigMap pass) the files Envoy's configuration names, which are what
 * Envoy read with it. Undefined (any file may change it) when neither is known. Without the files at
 * start, a first cds.yaml Envoy refused for a cluster of its own was renamed again when Envoy
 * accepted lds.yaml, and counted refused twice (trial on 1.40).
 */
export function refusalKeys(subscriptions: Pick<SubscriptionMap, 'list'>, pending: Pick<Pending, 'configMap' | 'foundAtStart'>): Iterable<string> | undefined {
  if (pending.configMap !== undefined) return pending.configMap.keys();
  return pending.foundAtStart === true ? new Set(subscriptions.list().map(({ file }) => file)) : undefined;
}

/**
 * Concludes `pending` with `given` and its `riders` (already taken off the poll loop); nothing for
 * an `unknown` on a refused content kept published (refused-kept.ts). A rider of
 * a refused reader is refused only when what Envoy refused reads it (riderBlame), else it goes back
 * with its reader, not judged; a rider of an accepted one whose reader Envoy did not rebuild (its
 * config dump says) goes back too. `rolledBack`: a version of `pending`'s file went back on disk;
 * `dependsOn`: the keys a refusal depends on, as its hold has them (undefined: any).
 */
export async function concludeWithRiders(ctx: FinishContext, pending: Pending, given: Decided, riders: readonly Pending[]): Promise<{ rolledBack: boolean; dependsOn?: readonly string[] | undefined }> {
  const { conclusions, subscriptions } = ctx;
  // A refused content kept published, judged again (refused-kept.ts): Envoy decided nothing, so its refusal stands, no line.
  if (given.outcome === 'unknown' && pending.refusedKept === true && riders.length === 0) return { rolledBack: false };
  let decided = given;
  const asRider: Decided = { ...decided, judgement: undefined, own: [] };
  if (decided.outcome === 'rejected' && decided.judgement?.outcome === 'rejected') {
    // Envoy's reason, read once for the file and its riders; which other keys could change it (holds.ts).
    const why = decided.why ?? (await conclusions.reasonFor(pending, decided.judgement));
    const keys = riders.length > 0 ? undefined : refusalKeys(subscriptions, pending);
    const dependsOn = keys === undefined ? undefined : dependsOnKeys(causeOf(subscriptions, pending, decided.judgement, why), pending.file, keys, (key) => otherFile(subscriptions, key, pending.file));
    decided = { ...decided, why, ...(dependsOn === undefined ? {} : { dependsOn }) };
  }
  if (decided.outcome === 'rejected' && riders.length > 0) {
    const why = decided.why;
    const blamed = riders.map((r) => ({ pending: r, rider: { file: r.file, resources: r.reader?.resources, content: r.content } satisfies Rider }));
    const running = await conclusions.runningIfKept(pending, why);
    for (const { pending: rider, rider: asBlamed } of blamed) {
      const blame = riderBlame(asBlamed, blamed.filter((b) => b.pending !== rider).map((b) => b.rider), why, pending.file, running);
      await conclusions.conclude(rider, riderDecided(blame, asRider, why));
    }
  }
  const concluded = { ...(await conclusions.conclude(pending, decided)), dependsOn: decided.dependsOn };
  const kept = decided.outcome === 'accepted' && riders.length > 0 && pending.foundAtStart !== true ? await ctx.readersKept?.(pending, riders) : undefined;
  for (const rider of decided.outcome === 'rejected' ? [] : riders) {
    const why = kept?.get(rider.file);
    await conclusions.conclude(rider, why === undefined ? asRider : { ...asRider, outcome: 'unknown', withReader: why.withReader, kept: why.held });
  }
  return concluded;
}

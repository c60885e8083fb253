// One pending file's judgement from one answer of Envoy's admin API (IO: a secret's certificates on
// disk and Envoy's `/certs`), for the poll loop (poll.ts): the stats scopes that read the file
// (attribution.ts), the subscriptions Envoy no longer uses (pending.ts noteGone), then judge.ts, or
// pending.ts judgeSecretFile for a file a Secret reads.
import type { Logger } from 'pino';
import type { EnvoyAdmin } from '../envoy/admin.js';
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';
import { judge, startedLoading } from './judge.js';
import type { Judgement } from './judge.js';
import { certificateSerials, judgeSecretFile, noteGone, scopesOf } from './pending.js';
import type { Pending } from './pending.js';
import { REQUEST_TIMEOUT_MS } from './reason.js';
import type { SubscriptionMap } from './subscription-map.js';
import { acceptedCopy } from './state.js';
import { resourceNames } from '../envoy/resource-names.js';
import { judgedBySecretReread } from './sds-reread.js';
import { lackingRouteOfFile, lackingRouteOfScopes } from './scope-route-missing.js';

export interface JudgeOneContext {
  targetDir: string;
  logger: Logger;
  /** ms a publish has for its verdict once Envoy loads it. */
  timeoutMs: number;
  subscriptions: SubscriptionMap;
  admin: () => { admin: EnvoyAdmin | undefined };
}

/**
 * The scopes of `own` that ran the previous version (`version_text`) when no published file asks
 * for any resource that version holds any more (judge.ts `leftover`): the subscription of a
 * listener the change replaced. The previous version's resources are read once, from its
 * accepted copy; none when it cannot be read, or when no file says which resource it asks for.
 */
async function leftoverScopes(ctx: JudgeOneContext, pending: Pending, own: readonly string[], counters: EnvoyCounters): Promise<Set<string>> {
  const previous = pending.previousVersion;
  const ran = own.filter((prefix) => previous !== undefined && previous !== '' && counters.subscriptions.get(prefix)?.versionText === previous);
  if (ran.length === 0) return new Set();
  // Types whose subscription asks for one resource by the name its file holds (an SRDS subscription
  // is named after the scoped routes config and takes every scope; LDS and CDS take every resource).
  const asked = ctx.subscriptions.resourcesAskedOf(pending.file, ['RDS', 'EDS', 'SDS', 'ECDS', 'RTDS']);
  if (asked.size === 0) return new Set();
  pending.previousResources ??= await acceptedCopy(ctx.targetDir, pending.file)
    .then((content) => new Set((content === undefined ? undefined : resourceNames(content))?.filter((name) => name !== '')))
    .catch(() => new Set<string>());
  const held = [...pending.previousResources];
  return held.length === 0 || held.some((name) => asked.has(name)) ? new Set() : new Set(ran);
}

/** The serials of an SDS file's certificates as published, read at its first re-read judgement (secretReread). */
const rereadSerials = new WeakMap<Pending, string[]>();

/** An SDS file's judgement through its Secret's re-read of the files it names (sds-reread.ts), as for those files. */
async function secretReread(ctx: JudgeOneContext, pending: Pending, own: readonly string[], counters: EnvoyCounters): Promise<Judgement> {
  let serials = rereadSerials.get(pending);
  if (serials === undefined) rereadSerials.set(pending, (serials = await certificateSerials(ctx.targetDir, ctx.subscriptions.secretCertificates(pending.file))));
  const served = serials;
  const judgement = await judgeSecretFile({ ...pending, secret: { sdsFiles: [pending.file], serials } }, serials, own, counters, true, () => servesAll(ctx, served));
  return judgement.outcome === 'accepted' ? { ...judgement, reread: true } : judgement;
}

/** Envoy's `/certs` lists every one of `serials` (false when it does not answer). */
async function servesAll(ctx: JudgeOneContext, serials: readonly string[]): Promise<boolean> {
  const used = await ctx.admin().admin?.certificateSerials(REQUEST_TIMEOUT_MS).catch(() => new Set<string>());
  return used !== undefined && serials.every((serial) => used.has(serial));
}

/**
 * The judgement of `pending` from Envoy's answer `counters` (undefined: no answer this round: no
 * judgement) and the file's own stats scopes; `attributed`: stats scope → file; `now`:
 * performance.now() of the answer; `afterRenames`: the request was sent after every rename of the
 * file's pass. A file found at start gets the usual time once Envoy starts loading it.
 */
export async function judgeOne(ctx: JudgeOneContext, attributed: ReadonlyMap<string, string>, pending: Pending, counters: EnvoyCounters | undefined, now: number, afterRenames: boolean): Promise<{ judgement: Judgement | undefined; own: string[] }> {
  const scopes = scopesOf(attributed, pending.file, pending.names);
  if (counters === undefined) return { judgement: undefined, own: scopes.own };
  if (pending.secret !== undefined) {
    const sds = [...attributed].filter(([, owner]) => pending.secret?.sdsFiles.includes(owner) === true).map(([prefix]) => prefix);
    scopes.own.push(...sds);
    const serials = (pending.secret.serials ??= await certificateSerials(ctx.targetDir, ctx.subscriptions.secretReaders(pending.file).certificates));
    return { judgement: await judgeSecretFile({ ...pending, secret: pending.secret }, serials, sds, counters, afterRenames, () => servesAll(ctx, serials)), own: scopes.own };
  }
  if (afterRenames) {
    for (const prefix of noteGone(pending, scopes.own, counters)) {
      ctx.logger.debug({ file: pending.file, statPrefix: prefix }, "a subscription that read the previous version did not reload: gone from Envoy's config");
    }
  }
  // A scope refusing the file for a route configuration only an SRDS file's scope names is that file's refusal (scope-route-missing.ts).
  const leftover = new Set([...(await leftoverScopes(ctx, pending, scopes.own, counters)), ...lackingRouteOfFile(ctx.subscriptions, pending.file, scopes.own, counters, pending.version)]);
  const lacking = lackingRouteOfScopes(ctx.subscriptions, pending.file, scopes.named, counters);
  let judgement: Judgement = judge({ version: pending.version, previousVersion: pending.previousVersion, baseline: pending.baseline, now: counters, subscriptions: scopes.own, named: scopes.named, gone: pending.gone, ...(pending.opened === undefined ? {} : { opened: pending.opened }), ...(leftover.size === 0 ? {} : { leftover }), ...(lacking.size === 0 ? {} : { lacking }) });
  if (judgement.outcome === undefined && judgedBySecretReread({ notRenamed: pending.notRenamed === true, own: scopes.own, baseline: pending.baseline, now: counters, afterRenames })) {
    judgement = await secretReread(ctx, pending, scopes.own, counters);
    // Not gone (noteGone): Envoy kept the subscription and re-read its Secret; its counters stay the file's.
    if (judgement.outcome !== undefined) for (const prefix of scopes.own) pending.gone.delete(prefix);
  }
  if (judgement.outcome === undefined && pending.initial && startedLoading(scopes.own, counters)) {
    // Envoy has started loading the file (update_attempt): from now on it has the usual time.
    // Until then it may still be starting, or warming clusters (DNS) before it starts LDS.
    pending.initial = false;
    pending.deadline = now + ctx.timeoutMs;
  }
  return { judgement, own: scopes.own };
}

// What Envoy runs from a file it refused, read from Envoy, for the verdict's message.
//
// From Envoy's source (1.40):
// - LDS and CDS apply an update's resources one by one and keep those that succeeded; the update is
//   still counted `update_rejected` and `version_text` does not move
//   (source/common/listener_manager/lds_api.cc LdsApiImpl::onConfigUpdate: "at this point, the first
//   of these duplicates has already been successfully applied"; source/common/upstream/cds_api_helper.cc
//   CdsApiHelper::onConfigUpdate). So a refused LDS or CDS file can be partly in effect: which of its
//   listeners or clusters Envoy runs is read from its admin API (admin.ts dynamicResources), and
//   whether it runs each as this version has it from its config there (ran-from.ts: an in-place
//   listener update keeps the old `version_info`; an unchanged listener or cluster is skipped).
// - RDS, EDS and SDS take exactly one resource per update and check it before applying it
//   (source/common/router/rds_impl.cc validateUpdateSize "Unexpected RDS resource length",
//   source/extensions/clusters/eds/eds.cc "Unexpected EDS resource length",
//   source/common/secret/sds_api.cc "Unexpected SDS secrets length"): a refusal applies nothing.
// - A file that does not parse (`update_failure`) or fails proto validation never reaches those
//   APIs (source/extensions/config_subscription/filesystem/filesystem_subscription_impl.cc): nothing
//   of it applies; the admin API then shows none of its resources from this version.
import type { DynamicResource, EnvoyAdmin } from '../envoy/admin.js';
import { resourceNames } from '../envoy/resource-names.js';
import { fileResources, ranFrom } from './ran-from.js';
import type { RefusedFile } from './ran-from.js';
import type { SubscriptionType } from '../envoy/stat-prefixes.js';
import type { RejectionReason } from '../envoy/rejection-reason.js';
import type { Pending } from './pending.js';
import { REQUEST_TIMEOUT_MS } from './reason.js';
import { acceptedCopy } from './state.js';

/** What Envoy runs from a refused file. */
export type Applied =
  /** RDS, EDS, SDS: a refused update applies nothing (the claim is made from the type alone). */
  | { kind: 'none-by-type' }
  /** Another type (ECDS) or none found: nothing is claimed. */
  | { kind: 'not-known' }
  /** LDS/CDS, read from the admin API: `fromThis` its resources Envoy runs as this version has them, `fromEarlier` those named in it that Envoy runs as an earlier version had them (ran-from.ts). */
  | { kind: 'read'; noun: Noun; total: number | undefined; fromThis: string[]; fromEarlier: string[] }
  /** LDS/CDS, the admin API did not answer. */
  | { kind: 'unread'; noun: Noun; adminPath: string }
  /** Envoy took the file; a subscription it opened refused `named` (judge.ts `created`). */
  | { kind: 'opened'; statPrefix: string; named: string };

type Noun = 'listener' | 'cluster';

const NOUN: Partial<Record<SubscriptionType, Noun>> = { LDS: 'listener', CDS: 'cluster' };
const ADMIN_PATH: Record<Noun, string> = { listener: '/config_dump?resource=dynamic_listeners', cluster: '/config_dump?resource=dynamic_active_clusters' };

/**
 * Sorts what Envoy runs (`running`, admin.ts dynamicResources) against the refused file: its
 * resource `names` (resourceNames) and `version` (the file's version_info; undefined: none, then
 * every running resource named in the file counts as this version's); `seen`: its resources and
 * publish time, which tell a listener updated in place or left unchanged (ran-from.ts ranFrom). Pure.
 */
export function sortApplied(noun: Noun, names: readonly string[] | undefined, version: string | undefined, running: readonly DynamicResource[], seen: Omit<RefusedFile, 'version'> = {}): Applied {
  const named = names === undefined ? undefined : new Set(names);
  const fromThis: string[] = [];
  const fromEarlier: string[] = [];
  for (const resource of running) {
    const inFile = named === undefined ? version !== undefined && resource.version === version : named.has(resource.name);
    if (!inFile) continue;
    if (ranFrom(resource, { version, ...seen }) === 'this') fromThis.push(resource.name);
    else fromEarlier.push(resource.name);
  }
  return { kind: 'read', noun, total: names?.length, fromThis: [...new Set(fromThis)], fromEarlier: [...new Set(fromEarlier)] };
}

/**
 * Reads what Envoy runs from the refused `content` of subscription `type`, renamed at
 * `publishedAtMs` (epoch ms; undefined: not known); `timeoutMs` per admin request.
 */
export async function readApplied(admin: EnvoyAdmin | undefined, type: SubscriptionType | undefined, content: Buffer, version: string | undefined, timeoutMs: number, publishedAtMs?: number): Promise<Applied> {
  if (type === 'RDS' || type === 'EDS' || type === 'SDS' || type === 'RTDS') return { kind: 'none-by-type' };
  const noun = type === undefined ? undefined : NOUN[type];
  if (noun === undefined || type === undefined) return { kind: 'not-known' };
  if (admin === undefined) return { kind: 'unread', noun, adminPath: ADMIN_PATH[noun] };
  try {
    const running = await admin.dynamicResources(type === 'LDS' ? 'LDS' : 'CDS', timeoutMs, { config: true });
    const resources = fileResources(content);
    return sortApplied(noun, resourceNames(content), version, running, { ...(resources === undefined ? {} : { resources }), ...(publishedAtMs === undefined ? {} : { publishedAtMs }) });
  } catch {
    return { kind: 'unread', noun, adminPath: ADMIN_PATH[noun] };
  }
}

const plural = (n: number, noun: Noun): string => `${noun}${n === 1 ? '' : 's'}`;

/** "the listener", "both listeners", "all 3 listeners" (every one of `total`), or "the listeners" when the file's count is not known. */
function every(total: number | undefined, noun: Noun): string {
  if (total === undefined) return `the ${plural(2, noun)}`;
  return total === 1 ? `the ${noun}` : total === 2 ? `both ${plural(2, noun)}` : `all ${String(total)} ${plural(total, noun)}`;
}

/**
 * What Envoy runs of `file`, the version it refused first, as a sentence ("Envoy runs FILE, without
 * what the subscription it opened (PREFIX) refused of NAMED" when Envoy took it, judge.ts `created`): "Envoy runs 1 of the 2
 * listeners of FILE (shop_listener) and refused the other", "Envoy runs none of the 2 listeners of
 * FILE", "Envoy does not run the listener of FILE", "Envoy runs WITHOUT the resources of FILE" (by
 * type), or, unread or of another type, a sentence that claims nothing. Counts agree with their
 * nouns ("the listener", never "none of the 1 listener").
 */
export function appliedSentence(file: string, applied: Applied): string {
  if (applied.kind === 'none-by-type') return `Envoy runs WITHOUT the resources of ${file}`;
  if (applied.kind === 'not-known') return `what Envoy runs of ${file} is not known here (Envoy's config dump shows it)`;
  if (applied.kind === 'opened') return `Envoy runs ${file}, without what the subscription it opened (${applied.statPrefix}) refused of ${applied.named}`;
  const { noun } = applied;
  if (applied.kind === 'unread') {
    return `Envoy applies each ${noun} of ${file} on its own, so it may run some of them; its admin API did not say which (${applied.adminPath})`;
  }
  const { total, fromThis, fromEarlier } = applied;
  const others = total === undefined ? 'the others' : total - fromThis.length === 1 ? 'the other' : 'the others';
  let sentence: string;
  if (fromThis.length === 0) sentence = total === 1 ? `Envoy does not run the ${noun} of ${file}` : `Envoy runs none of ${total === undefined ? 'the' : `the ${String(total)}`} ${plural(2, noun)} of ${file}`;
  else if (total !== undefined && fromThis.length >= total) sentence = `Envoy runs ${every(total, noun)} of ${file} (${fromThis.join(', ')})`;
  else sentence = `Envoy runs ${String(fromThis.length)} of ${total === undefined ? 'the' : `the ${String(total)}`} ${plural(2, noun)} of ${file} (${fromThis.join(', ')}) and refused ${others}`;
  if (fromEarlier.length > 0) sentence += `; it still runs an earlier version of ${fromEarlier.join(', ')}`;
  return sentence;
}

/**
 * For the riders of a refused reader file: the names of its resources Envoy runs from this version
 * (`readApplied`), when the file stays published (no accepted copy in `targetDir` to put back: Envoy
 * refused its first version) and Envoy named the listeners it refused (LDS); else undefined.
 */
export async function runningIfKept(admin: EnvoyAdmin | undefined, targetDir: string, pending: Pick<Pending, 'file' | 'content' | 'version'> & Partial<Pick<Pending, 'publishedAtMs'>>, why: RejectionReason | undefined): Promise<readonly string[] | undefined> {
  if (why?.listeners === undefined || (await acceptedCopy(targetDir, pending.file)) !== undefined) return undefined;
  const read = await readApplied(admin, 'LDS', pending.content, pending.version, REQUEST_TIMEOUT_MS, pending.publishedAtMs);
  return read.kind === 'read' ? read.fromThis : undefined;
}

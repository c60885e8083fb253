// What Envoy runs of a refused LDS or CDS file that stays published, for `status`: LDS and CDS
// apply each resource of an update on its own and keep those that succeeded while the update is
// counted refused and `version_text` does not move (applied.ts), so the subscription's version says
// "(none)" while Envoy serves most of the file (trial on 1.40: 2 of 3 listeners of a refused first
// lds.yaml served; 2 of 3 listeners of an lds.yaml a restarted Envoy refused at start). Read live
// from Envoy's config dump (applied.ts readApplied), as the column's version is.
import { EnvoyAdmin } from '../envoy/admin.js';
import { subscriptionType } from '../envoy/stat-prefixes.js';
import { parseAdminAddress } from '../envoy/subscriptions.js';
import { readApplied, type Applied } from './applied.js';

/** The resources of the published file Envoy runs as the file has them. */
export interface RunsOfRefused {
  noun: Extract<Applied, { kind: 'read' }>['noun'];
  /** How many resources the file names (undefined: not read). */
  total: number | undefined;
  /** Their names, at least one. */
  fromThis: string[];
}

/**
 * What Envoy runs of the published `content` (version `version`) of a file read through
 * subscriptions `statPrefixes`: undefined unless it is read as LDS or CDS and Envoy runs at least
 * one of its resources as the file has them; undefined too when Envoy does not answer within
 * `timeoutMs` (one config dump request to the admin API at `adminAddress`, HOST:PORT as the state keeps it).
 */
export async function runsOfRefused(adminAddress: string | undefined, statPrefixes: readonly string[], content: Buffer, version: string | undefined, timeoutMs: number): Promise<RunsOfRefused | undefined> {
  const type = statPrefixes.map(subscriptionType).find((t) => t === 'LDS' || t === 'CDS');
  if (adminAddress === undefined || type === undefined) return undefined;
  const admin = new EnvoyAdmin(parseAdminAddress(adminAddress));
  try {
    const read = await readApplied(admin, type, content, version, timeoutMs);
    return read.kind === 'read' && read.fromThis.length > 0 ? { noun: read.noun, total: read.total, fromThis: read.fromThis } : undefined;
  } finally {
    admin.close();
  }
}

/** What the ENVOY RUNS cell adds: ", runs 2 of its 3 listeners (l_a, l_b)", ", runs its cluster (c)". Pure. */
export function runsOfRefusedText(runs: RunsOfRefused | undefined): string {
  if (runs === undefined) return '';
  const { noun, total, fromThis } = runs;
  const names = fromThis.join(', ');
  if (total === 1) return `, runs its ${noun} (${names})`;
  const of = total === undefined ? '' : ` of its ${String(total)}`;
  return `, runs ${String(fromThis.length)}${of} ${noun}${fromThis.length === 1 && total === undefined ? '' : 's'} (${names})`;
}

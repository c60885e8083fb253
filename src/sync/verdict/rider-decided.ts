// How a file judged with its reader (a Lua script with lds.yaml: read-once-verdict.ts) is concluded
// once Envoy refused the reader file, from riderBlame's answer. Pure.
import type { RejectionReason } from '../envoy/rejection-reason.js';
import type { Decided } from './conclude.js';
import type { Blame } from './read-once-verdict.js';

/**
 * The rider's outcome from `blame` (`asRider`: the reader's refusal, without its judgement; `why`:
 * Envoy's reason): refused, saying Envoy's reason as its reader does (and `status` keeps it with
 * the refusal); accepted, judged by the listeners Envoy runs that read it; else `unknown`, going
 * back with its reader (or staying published with it) and saying why Envoy did not judge it.
 */
export function riderDecided(blame: Blame, asRider: Decided, why: RejectionReason | undefined): Decided {
  if (blame === 'refused' || 'unproven' in blame) return { ...asRider, ...(why === undefined ? {} : { why }), ...(blame === 'refused' ? {} : { unproven: blame.unproven }) };
  if ('acceptedWith' in blame) return { ...asRider, outcome: 'accepted', because: blame.acceptedWith };
  return { ...asRider, outcome: 'unknown', withReader: blame.notJudged };
}

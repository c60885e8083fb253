// Has Envoy read a file renamed a moment ago? Pure. A file subscription counts `update_attempt`
// first thing on every reload, before it parses the file (FilesystemSubscriptionImpl::refresh,
// source/extensions/config_subscription/filesystem/filesystem_subscription_impl.cc), so a count past
// the one in Envoy's answer from before the pass's first rename (the verdict's baseline) means
// Envoy's main thread has handled the rename, whatever it made of the file: the update is applied
// (or refused) by the time the counter can be read, since the main thread runs a reload to its end
// before it answers an admin request.
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';

export type ReadState = 'read' | 'not-yet' | 'untold';

/**
 * Whether Envoy has read every file of `files` since `baseline`, from `now`: `read` when each file
 * that has a subscription in Envoy's answer (`attributed`: stats scope → file, attribution.ts) has
 * one whose `update_attempt` moved past the baseline's (a scope the baseline lacks was opened
 * since, and read the file when it started; a count lower than the baseline's is a restarted Envoy,
 * which read every file at start); `not-yet` when some such file has none that moved; `untold`
 * when no file of `files` has a subscription in the answer (nothing to wait on).
 */
export function readSince(files: readonly string[], attributed: ReadonlyMap<string, string>, baseline: EnvoyCounters, now: EnvoyCounters): ReadState {
  let told = false;
  for (const file of files) {
    const scopes = [...attributed].filter(([prefix, owner]) => owner === file && now.subscriptions.has(prefix)).map(([prefix]) => prefix);
    if (scopes.length === 0) continue;
    told = true;
    const moved = scopes.some((prefix) => {
      const current = now.subscriptions.get(prefix)?.attempt ?? 0;
      const before = baseline.subscriptions.get(prefix)?.attempt;
      return before === undefined || current !== before;
    });
    if (!moved) return 'not-yet';
  }
  return told ? 'read' : 'untold';
}

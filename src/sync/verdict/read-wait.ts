// Waiting, between two renames of a pass, until Envoy has read the files renamed first (IO: the
// admin API, the clock). The syncer asks for it when the next file may depend on them
// (publish/rename-waits.ts); the rule is has-read.ts. Envoy's main thread handles the inotify
// descriptors a rename made ready before an admin request that arrives later, so its first answer
// to a request sent after the rename normally shows the read; the loop asks again only if not.
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { EnvoyAdmin } from '../envoy/admin.js';
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';
import { readSince } from './has-read.js';

/** How long the next rename waits at most, ms: the bound of the baseline request (tracker.ts), for the same reason. */
export const READ_WAIT_MS = 250;
/** ms between two requests when Envoy's answer does not show the read yet. */
const RETRY_MS = 2;

export interface ReadWait {
  admin: EnvoyAdmin;
  /** Envoy's counters read before the pass's first rename (the verdict's baseline). */
  baseline: EnvoyCounters;
  /** Stats scope → file, from Envoy's answer (attribution.ts over the files Envoy reads). */
  attribute: (now: EnvoyCounters) => ReadonlyMap<string, string>;
}

export interface ReadWaitResult {
  /** `read`: Envoy showed it; `untold`: no subscription of these files in Envoy's answer; `timeout`: not within the bound; `unreachable`: the admin API failed. */
  outcome: 'read' | 'untold' | 'timeout' | 'unreachable';
  /** ms waited. */
  ms: number;
}

/** Resolves once Envoy's counters show it read `files`, or after `boundMs` at most. Never throws. */
export async function waitUntilRead(files: readonly string[], wait: ReadWait, boundMs = READ_WAIT_MS): Promise<ReadWaitResult> {
  const start = performance.now();
  for (;;) {
    const left = boundMs - (performance.now() - start);
    if (left <= 0) return { outcome: 'timeout', ms: performance.now() - start };
    let now: EnvoyCounters;
    try {
      now = await wait.admin.counters(Math.ceil(left));
    } catch {
      const ms = performance.now() - start;
      return { outcome: ms >= boundMs ? 'timeout' : 'unreachable', ms };
    }
    const state = readSince(files, wait.attribute(now), wait.baseline, now);
    if (state !== 'not-yet') return { outcome: state, ms: performance.now() - start };
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

/** waitUntilRead, then says how it went: info when the bound passed (the dependent files are renamed anyway), debug otherwise. Never throws. */
export async function awaitReadLogged(files: readonly string[], wait: ReadWait, logger: Logger): Promise<void> {
  const waited = await waitUntilRead(files, wait);
  const ms = Math.round(waited.ms * 100) / 100;
  const them = files.length === 1 ? 'it' : 'them';
  if (waited.outcome === 'timeout') logger.info({ files, waitedMs: ms }, `Envoy did not show it read ${files.join(', ')} within ${String(ms)} ms: renaming the files that depend on ${them} anyway`);
  else logger.debug({ files, waitedMs: ms, outcome: waited.outcome }, `waited ${String(ms)} ms for Envoy to read ${files.join(', ')} before renaming the files that depend on ${them}: ${waited.outcome}`);
}

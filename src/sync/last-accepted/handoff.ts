// `copy` → `watch`: the last-accepted store as `copy` read it (the kubelet's volume, reader.ts), handed
// to the watcher in the Pod's emptyDir (verdict/store-handoff.ts), so that the watcher's first
// verdicts, which the store usually already holds (another Pod of the workload judged the same
// content), send no request: without it the watcher's first write GETs the store to find that out,
// and that one request on the watch's connection at the start is most of what the watcher costs the
// apiserver above client-go's transport (docs/api-source.md, cost at fleet scale). Pure.
//
// The volume carries the store's data, not its metadata: no resourceVersion. So the record only
// says what the store already holds (writer.ts `known`: a verdict it holds sends nothing); a verdict
// it does not hold is written as any other, GET first (its resourceVersion), PUT, a 409 re-reads.
// A record gone stale meanwhile therefore never reaches the apiserver; at most it spares a write
// the store lost since (deleted, re-created empty), which the next write puts back (changes.ts
// `refill`), as with a record the watcher read itself a while ago.
import { sha256 } from '../envoy/version-stamp.js';
import { parseRecord, type LastAcceptedRecord } from './record.js';
import type { LastAccepted } from './reader.js';

/** The handoff file's format version: a reader that does not know it falls back to the GET. */
export const HANDOFF_FORMAT = 1;

/**
 * How old a handoff may be when the watcher takes it (ms): past that (a watcher that started long
 * after `copy`), it reads the store itself, as before.
 */
export const HANDOFF_MAX_AGE_MS = 10 * 60_000;

export interface StoreHandoff {
  format: typeof HANDOFF_FORMAT;
  /** ISO time `copy` read the store's volume. */
  readAt: string;
  /** Where it read it (`copy --accepted`). */
  from: string;
  /**
   * The store's record as a GET would let the writer use it: an accepted mark stays only where the
   * store held its content intact (sha256 matches) or the mark says it is unkept and no content is there.
   */
  record: LastAcceptedRecord;
}

/**
 * The record of `store` with each accepted mark whose content the store does not hold intact
 * dropped: the writer then writes that file's next accepted verdict (GET, PUT), as after a GET that
 * found the content missing or changed (changes.ts `apply` compares the content too). Pure.
 */
export function intactRecord(store: LastAccepted): LastAcceptedRecord {
  const files: LastAcceptedRecord['files'] = {};
  for (const [name, entry] of Object.entries(store.record.files)) {
    const { accepted, ...rest } = entry;
    const content = store.files.get(name);
    const intact = accepted !== undefined && (accepted.unkept === undefined ? content !== undefined && sha256(content) === accepted.sha256 : content === undefined);
    files[name] = intact ? { ...rest, accepted } : rest;
  }
  return { configMap: store.record.configMap, files };
}

/** The handoff `copy` writes after reading `store` from `from` at `readAt`. Pure. */
export function storeHandoff(store: LastAccepted, from: string, readAt: Date): StoreHandoff {
  return { format: HANDOFF_FORMAT, readAt: readAt.toISOString(), from, record: intactRecord(store) };
}

export function formatHandoff(handoff: StoreHandoff): string {
  return `${JSON.stringify(handoff)}\n`;
}

/** What the watcher makes of a handoff file's text. */
export type HandoffUse =
  | { use: true; record: LastAcceptedRecord; readAt: string; ageMs: number }
  /** `corrupt`: the text is not a handoff (say so loudly); otherwise a plain reason to read the store. */
  | { use: false; why: string; corrupt: boolean };

/**
 * Whether the watcher of `configMap` starts from the handoff `text` at `now`: only a well-formed
 * handoff of this ConfigMap's store, read at most `maxAgeMs` ago (and not in the future by more
 * than a minute: another clock). Never throws. Pure.
 */
export function useHandoff(text: string, configMap: string, now: Date, maxAgeMs = HANDOFF_MAX_AGE_MS): HandoffUse {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { use: false, why: `not JSON (${(err as Error).message})`, corrupt: true };
  }
  if (typeof value !== 'object' || value === null) return { use: false, why: 'not a JSON object', corrupt: true };
  const { format, readAt, record } = value as Record<string, unknown>;
  if (format !== HANDOFF_FORMAT) return { use: false, why: `format ${format === undefined ? 'missing' : JSON.stringify(format)}, not ${String(HANDOFF_FORMAT)}`, corrupt: typeof format !== 'number' };
  const at = typeof readAt === 'string' ? Date.parse(readAt) : NaN;
  if (Number.isNaN(at)) return { use: false, why: 'no "readAt" time', corrupt: true };
  let parsed: LastAcceptedRecord;
  try {
    parsed = parseRecord(JSON.stringify(record));
  } catch (err) {
    return { use: false, why: `its record: ${(err as Error).message}`, corrupt: true };
  }
  if (parsed.configMap !== configMap) return { use: false, why: `it is the store of ConfigMap ${parsed.configMap}, not ${configMap}`, corrupt: false };
  const ageMs = now.getTime() - at;
  if (ageMs > maxAgeMs) return { use: false, why: `read ${String(Math.round(ageMs / 1000))} s ago, more than ${String(maxAgeMs / 1000)} s`, corrupt: false };
  if (ageMs < -60_000) return { use: false, why: `read at ${String(readAt)}, in the future`, corrupt: false };
  return { use: true, record: parsed, readAt: String(readAt), ageMs: Math.max(0, ageMs) };
}

// Which files `copy` starts from the last-accepted store instead of the ConfigMap, pure: those whose
// ConfigMap content, stamped as `watch` would publish it, is what some Envoy of the workload refused,
// and for which the store holds the accepted content intact (reader.ts reads the store).
import { publishable, sha256 } from '../envoy/version-stamp.js';
import type { Snapshot } from '../volume/snapshot.js';
import type { Mark } from './record.js';
import type { LastAccepted } from './reader.js';

/** A file `copy` starts from the store instead of the ConfigMap. */
export interface Substitution {
  name: string;
  /** The accepted content (stamped), published in place of the ConfigMap's. */
  content: Buffer;
  accepted: Mark;
  /** The refused version, which is what the ConfigMap holds (same sha256 once stamped). */
  refused: Mark;
}

/**
 * Files of `snapshot` whose content, stamped as `watch` would publish it, is exactly what the store
 * records as refused, and for which the store holds intact accepted content (its sha256 matches
 * the record); `unusable`: such files the store cannot start from, with why. Pure.
 */
export function substitutions(snapshot: Snapshot, store: LastAccepted): { substitutions: Substitution[]; unusable: { name: string; refused: Mark; why: string }[] } {
  const out: Substitution[] = [];
  const unusable: { name: string; refused: Mark; why: string }[] = [];
  for (const [name, source] of snapshot.files) {
    const mark = store.record.files[name];
    if (mark?.refused === undefined) continue;
    if (publishable(name, source).sha256 !== mark.refused.sha256) continue;
    // The ConfigMap holds refused content: start from the accepted version if the store has it intact.
    const content = store.files.get(name);
    const { accepted, refused } = mark;
    let why: string;
    if (accepted === undefined) why = 'Envoy never accepted a version of it';
    else if (accepted.unkept !== undefined) why = `Envoy last accepted version ${accepted.version ?? '(no version_info)'} in Pod ${accepted.pod ?? '(unknown)'} at ${accepted.at}, but the store could not hold it: ${accepted.unkept}`;
    else if (content === undefined) why = 'the store lacks its accepted content';
    else if (sha256(content) !== accepted.sha256) why = 'the stored accepted content does not match its sha256 (edited by hand?)';
    else if (accepted.sha256 === refused.sha256) why = 'the same content is marked accepted and refused';
    else {
      out.push({ name, content, accepted, refused });
      continue;
    }
    unusable.push({ name, refused, why });
  }
  return { substitutions: out, unusable };
}

/** `snapshot` with each substituted file's content replaced. */
export function applySubstitutions(snapshot: Snapshot, subs: readonly Substitution[]): Snapshot {
  if (subs.length === 0) return snapshot;
  const files = new Map(snapshot.files);
  for (const sub of subs) files.set(sub.name, sub.content);
  return { ...snapshot, files };
}

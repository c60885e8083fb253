// The last-accepted ConfigMap (`source: api`), as `copy` reads it: the kubelet mounts it as an
// optional ConfigMap volume (files plus one record key). When the ConfigMap holds, for a file,
// exactly the content some Envoy of this workload refused, and the store has the version Envoy
// last accepted, `copy` publishes that version instead: the new Pod's Envoy starts with its
// listeners, not without them. It is a starting point, not a verdict for this Envoy (its image or
// bootstrap may differ): the watcher retries the ConfigMap's content once this Envoy runs the
// accepted version, and this Envoy's own verdict decides (verdict.ts, `fromStore`).
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import { LAST_ACCEPTED_RECORD_KEY } from '../../inject/last-accepted.js';
import { readSnapshot, SourceMissingError } from '../volume/snapshot.js';
import type { Snapshot } from '../volume/snapshot.js';
import { sha256 } from '../publish/target.js';
import { stampVersion } from '../envoy/version-stamp.js';
import { keepCopy, readState, stateDir, writeState } from '../verdict/state.js';
import type { VerdictState } from '../verdict/state.js';

/** One judged version of a file: sha256 (hex) of the published (stamped) content. */
export interface Mark {
  sha256: string;
  /** `version_info` Envoy reported for it (absent when the file carries none). */
  version?: string;
  /** ISO time of the verdict. */
  at: string;
  /** `namespace/name` of the Pod whose Envoy gave the verdict. */
  pod?: string;
}

/** The record key's JSON. `files[name].accepted` describes the data key `name`. */
export interface LastAcceptedRecord {
  /** The ConfigMap the files come from. */
  configMap: string;
  files: Record<string, { accepted?: Mark; refused?: Mark }>;
}

export interface LastAccepted {
  record: LastAcceptedRecord;
  /** Data keys other than the record: the accepted content, as published (stamped). */
  files: Map<string, Buffer>;
}

function isMark(value: unknown): value is Mark {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  return typeof m.sha256 === 'string' && /^[0-9a-f]{64}$/.test(m.sha256) && typeof m.at === 'string' && (m.version === undefined || typeof m.version === 'string');
}

/**
 * Parses the record key's text. Throws Error with a readable message when it is not the shape
 * this module writes (a hand edit): the caller then ignores the store, never guesses.
 */
export function parseRecord(text: string): LastAcceptedRecord {
  const value = JSON.parse(text) as unknown;
  if (typeof value !== 'object' || value === null) throw new Error('not a JSON object');
  const { configMap, files } = value as Record<string, unknown>;
  if (typeof configMap !== 'string') throw new Error('no "configMap" string');
  if (typeof files !== 'object' || files === null) throw new Error('no "files" object');
  const out: LastAcceptedRecord = { configMap, files: {} };
  for (const [name, entry] of Object.entries(files)) {
    if (typeof entry !== 'object' || entry === null) throw new Error(`files["${name}"] is not an object`);
    const { accepted, refused } = entry as Record<string, unknown>;
    if (accepted !== undefined && !isMark(accepted)) throw new Error(`files["${name}"].accepted is not {sha256, at, version?}`);
    if (refused !== undefined && !isMark(refused)) throw new Error(`files["${name}"].refused is not {sha256, at, version?}`);
    out.files[name] = { ...(accepted === undefined ? {} : { accepted }), ...(refused === undefined ? {} : { refused }) };
  }
  return out;
}

/**
 * The store mounted at `dir` (a ConfigMap volume: `..data` layout; or a plain directory), or
 * undefined when it has no record yet (the kubelet mounts an empty directory for a missing
 * optional ConfigMap). Throws SourceMissingError when `dir` does not exist, Error when the record
 * does not parse.
 */
export async function readLastAccepted(dir: string): Promise<LastAccepted | undefined> {
  const snapshot = await readSnapshot(dir);
  const text = snapshot.files.get(LAST_ACCEPTED_RECORD_KEY);
  if (text === undefined) return undefined;
  let record: LastAcceptedRecord;
  try {
    record = parseRecord(text.toString('utf8'));
  } catch (err) {
    throw new Error(`${dir}/${LAST_ACCEPTED_RECORD_KEY}: ${(err as Error).message}`, { cause: err });
  }
  const files = new Map(snapshot.files);
  files.delete(LAST_ACCEPTED_RECORD_KEY);
  return { record, files };
}

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
    const sourceSha = sha256(source);
    const stamped = stampVersion(name, source, sourceSha).content;
    if ((stamped === source ? sourceSha : sha256(stamped)) !== mark.refused.sha256) continue;
    // The ConfigMap holds refused content: start from the accepted version if the store has it intact.
    const content = store.files.get(name);
    const { accepted, refused } = mark;
    let why: string;
    if (accepted === undefined) why = 'Envoy never accepted a version of it';
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

/**
 * After `copy` published the substitutions: records them in the verdict state the watcher starts
 * from (verdict-state.ts): the accepted copy to roll back to, and the refused content marked
 * `fromStore` so the watcher holds it back until this Envoy runs the accepted version, then lets
 * this Envoy judge it once.
 */
export async function recordSubstitutions(targetDir: string, sourceDir: string, subs: readonly Substitution[]): Promise<void> {
  if (subs.length === 0) return;
  await mkdir(stateDir(targetDir), { recursive: true });
  const state: VerdictState = (await readState(targetDir).catch(() => undefined)) ?? {
    pid: process.pid,
    sourceDir,
    targetDir,
    updatedAt: new Date().toISOString(),
    files: {},
  };
  const version = (mark: Mark): { version?: string } => (mark.version === undefined ? {} : { version: mark.version });
  for (const sub of subs) {
    await keepCopy(targetDir, 'accepted', sub.name, undefined);
    state.files[sub.name] = {
      ...state.files[sub.name],
      published: { ...version(sub.accepted), sha256: sub.accepted.sha256, at: new Date().toISOString() },
      accepted: { ...version(sub.accepted), at: sub.accepted.at },
      refused: { ...version(sub.refused), sha256: sub.refused.sha256, at: sub.refused.at, fromStore: sub.refused.pod ?? 'another Pod' },
    };
  }
  state.updatedAt = new Date().toISOString();
  await writeState(targetDir, state);
}

/**
 * `copy --accepted DIR`: the store, or undefined (with the reason logged) when it cannot be used.
 * Never throws: a broken store must not keep Envoy from starting on the ConfigMap.
 */
export async function loadLastAccepted(dir: string, logger: Logger): Promise<LastAccepted | undefined> {
  try {
    return await readLastAccepted(dir);
  } catch (err) {
    const message = err instanceof SourceMissingError ? `${dir} does not exist` : (err as Error).message;
    logger.warn({ store: dir, error: message }, `the last-accepted store cannot be read (${message}): starting from the ConfigMap alone`);
    return undefined;
  }
}

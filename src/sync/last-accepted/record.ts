// The last-accepted store's record (`source: api`): the JSON kept under one key of the
// last-accepted ConfigMap (`<configmap>-envoy-xds-accepted`, src/inject/last-accepted.ts), next to
// the accepted content of each file. The watcher writes it (writer.ts), `copy` reads it (reader.ts).
// Pure.

/** One judged version of a file: sha256 (hex) of the published (stamped) content. */
export interface Mark {
  sha256: string;
  /** `version_info` Envoy reported for it (absent when the file carries none). */
  version?: string;
  /** ISO time of the verdict. */
  at: string;
  /** `namespace/name` of the Pod whose Envoy gave the verdict. */
  pod?: string;
  /** accepted only: the store could not hold this content (why, e.g. the apiserver's "Too long"): the mark stands alone. */
  unkept?: string;
}

/** What the store keeps of a verdict (verdict/verdict.ts `Verdict` has these fields). */
export interface JudgedFile {
  file: string;
  outcome: 'accepted' | 'rejected' | 'unknown';
  /** sha256 (hex) of the content judged, as published (stamped). */
  sha256: string;
  version: string | undefined;
}

/** The record key's JSON. `files[name].accepted` describes the data key `name`. */
export interface LastAcceptedRecord {
  /** The ConfigMap the files come from. */
  configMap: string;
  files: Record<string, { accepted?: Mark; refused?: Mark }>;
}

function isMark(value: unknown): value is Mark {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  return typeof m.sha256 === 'string' && /^[0-9a-f]{64}$/.test(m.sha256) && typeof m.at === 'string' && (m.version === undefined || typeof m.version === 'string') && (m.unkept === undefined || typeof m.unkept === 'string');
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

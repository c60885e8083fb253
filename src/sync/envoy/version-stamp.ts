// The version Envoy reports back. Envoy's file-based subscription reads a file as a
// DiscoveryResponse; its top-level `version_info` becomes the subscription's `version_text` stat
// (e.g. `listener_manager.lds.version_text`) once the update is accepted, and stays at the previous
// value when it is refused (FilesystemSubscriptionImpl::refresh, source/extensions/
// config_subscription/filesystem/filesystem_subscription_impl.cc). Every published content
// therefore carries a version of its own: the user's `version_info` (as Envoy reads it,
// envoy/yaml-scalar.ts) with `+sha256:<12 hex of the ConfigMap content>` appended, or that digest
// alone when there is none. A user who never bumps `version_info: "0"` still gets a version per
// content, and the user's text stays visible in it. Only that one line is written or added, never
// a re-serialisation (comments, anchors and tags stay).
import { createHash } from 'node:crypto';
import { envoyVersionScalar } from './yaml-scalar.js';
import { isConfigFile } from './yaml.js';

export interface Stamped {
  /** What to publish: the source itself, or the source with its `version_info` line set or added. */
  content: Buffer;
  /** The version Envoy will report for this content; undefined when it cannot be known from the text. */
  version: string | undefined;
  /** Whether the user wrote a `version_info` (kept in `version`, before the `+`). */
  userVersion: boolean;
}

// A top-level key in block style starts at column 0; block scalars and nested keys are indented.
const TOP_RESOURCES = /^(["']?)resources\1[ \t]*:/m;
const TOP_VERSION = /^((["']?)version_info\2[ \t]*:)(.*)$/m;
// A version this stamping wrote: `sha256:<12 hex>` alone or after the user's value and `+`.
const STAMPED = /(^|\+)sha256:[0-9a-f]{12}$/;

/** The version stamped on content with this sha256 (hex): short, and the same for the same text. */
export function contentVersion(sourceSha256: string): string {
  return `sha256:${sourceSha256.slice(0, 12)}`;
}

/** The user's version with the content's digest: what Envoy reports for exactly this content. */
export function uniqueVersion(user: string, sourceSha256: string): string {
  return user === '' ? contentVersion(sourceSha256) : `${user}+${contentVersion(sourceSha256)}`;
}

/**
 * Gives an xDS file (a `.yaml`/`.yml`/`.json` file with a top-level `resources` key) the version
 * of its content.
 * - Block-style YAML: a `version_info` line the user wrote is rewritten in place (its comment
 *   kept); else one line is inserted before the first top-level key (after a leading BOM,
 *   comments, directives and `---`), with the file's own line ending.
 * - JSON (also JSON text in a `.yaml` file): a string `"version_info"` gets the new value; else
 *   `"version_info":"...",` is inserted right after the opening `{`.
 * - A `version_info` Envoy refuses (a bool or an int32, `version_info: 3`) is left as written:
 *   Envoy refuses the file, as it would without the watcher (`version: undefined`).
 * - Anything else (flow-style YAML, an indented top level, a multi-line scalar, not an xDS file) is
 *   returned unchanged with `version: undefined`: the verdict then relies on Envoy's update
 *   counters alone.
 * Never throws; content that does not parse is left to the gate.
 */
export function stampVersion(name: string, source: Buffer, sourceSha256: string): Stamped {
  const unchanged = (userVersion = false): Stamped => ({ content: source, version: undefined, userVersion });
  if (!isConfigFile(name)) return unchanged();
  const text = source.toString('utf8');
  const bom = text.startsWith('\uFEFF') ? 1 : 0;
  const firstChar = /\S/.exec(text.slice(bom));
  if (firstChar?.[0] === '{' || firstChar?.[0] === '[') return stampJson(text, bom, source, sourceSha256);
  const body = text.slice(bom); // `^` must see the first key of a file that starts with a BOM
  if (!TOP_RESOURCES.test(body)) return unchanged();

  const user = TOP_VERSION.exec(body);
  if (user !== null) {
    const rest = (user[3] ?? '').replace(/\r$/, '');
    const scalar = envoyVersionScalar(rest);
    if (scalar?.kind !== 'string') return unchanged(true);
    // Already stamped (a published file, e.g. the last-accepted store's copy): its version stays.
    if (STAMPED.test(scalar.value)) return { content: source, version: scalar.value, userVersion: true };
    const version = uniqueVersion(scalar.value, sourceSha256);
    const comment = /\s#.*$/.exec(rest.replace(/^\s*("(?:[^"\\]|\\.)*"|'(?:[^']|'')*')/, ''))?.[0] ?? '';
    const start = bom + user.index;
    const end = start + (user[1] ?? '').length + rest.length;
    const replaced = `${text.slice(0, start)}${user[1] ?? ''} ${JSON.stringify(version)}${comment}${text.slice(end)}`;
    return { content: Buffer.from(replaced, 'utf8'), version, userVersion: true };
  }
  const version = contentVersion(sourceSha256);
  const at = firstKeyOffset(text, bom);
  if (at === undefined) return unchanged();
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const line = `version_info: ${JSON.stringify(version)}${eol}`;
  const prefix = Buffer.byteLength(text.slice(0, at), 'utf8');
  return {
    content: Buffer.concat([source.subarray(0, prefix), Buffer.from(line), source.subarray(prefix)]),
    version,
    userVersion: false,
  };
}

// The line stampVersion inserts where the user wrote no `version_info` (block-style YAML; JSON gets
// its key on the opening brace's line, so no line moves).
const INSERTED = /^version_info: "sha256:[0-9a-f]{12}"\r?\n/m;

/**
 * A published file's text with the `version_info` line stampVersion inserted taken out again, so
 * that line numbers are the ConfigMap key's (`validate` on a copy the watcher kept); `removedLine`:
 * the 1-based line it was on. Text without such a line is returned as it is.
 */
export function withoutInsertedStamp(text: string): { text: string; removedLine?: number } {
  const found = INSERTED.exec(text);
  if (found === null) return { text };
  return { text: text.slice(0, found.index) + text.slice(found.index + found[0].length), removedLine: text.slice(0, found.index).split('\n').length };
}

/** sha256 (hex) of `content`: how every digest of the watcher (state file, store, holds) is written. */
export function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/** What `watch` publishes for a source file: the stamped content, its version, and its sha256. */
export interface Publishable extends Stamped {
  /** sha256 (hex) of `content`: what a refusal holds back and the store records. */
  sha256: string;
}

/**
 * The one rule for "the sha256 of what watch would publish": the content stamped, hashed (the
 * source's own digest when stamping left it unchanged). `sourceSha256` saves a hash when known.
 */
export function publishable(name: string, source: Buffer, sourceSha256: string = sha256(source)): Publishable {
  const stamped = stampVersion(name, source, sourceSha256);
  return { ...stamped, sha256: stampedSha256(stamped, source, sourceSha256) };
}

/** sha256 of `stamped.content`, reusing the source's digest when stamping left the source as is. */
export function stampedSha256(stamped: Stamped, source: Buffer, sourceSha256: string): string {
  return stamped.content === source ? sourceSha256 : sha256(stamped.content);
}

/** The version a published file carries, as Envoy will report it (read, never stamped again). */
export function versionOf(name: string, content: Buffer): string | undefined {
  if (!isConfigFile(name)) return undefined;
  const text = content.toString('utf8').replace(/^\uFEFF/, '');
  const firstChar = /\S/.exec(text);
  if (firstChar?.[0] === '{') {
    try {
      const root = JSON.parse(text) as { version_info?: unknown };
      return typeof root.version_info === 'string' ? root.version_info : undefined;
    } catch {
      return undefined;
    }
  }
  const user = TOP_VERSION.exec(text);
  const scalar = user === null ? undefined : envoyVersionScalar((user[3] ?? '').replace(/\r$/, ''));
  return scalar?.kind === 'string' ? scalar.value : undefined;
}

function stampJson(text: string, bom: number, source: Buffer, sourceSha256: string): Stamped {
  let root: unknown;
  try {
    root = JSON.parse(text.slice(bom));
  } catch {
    return { content: source, version: undefined, userVersion: false }; // flow-style YAML: leave it
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root) || !('resources' in root)) {
    return { content: source, version: undefined, userVersion: false };
  }
  const given = (root as { version_info?: unknown }).version_info;
  if (given !== undefined) {
    // A number or bool Envoy refuses; null is no version. Only a string is rewritten.
    if (given !== null && typeof given !== 'string') return { content: source, version: undefined, userVersion: true };
    if (typeof given === 'string' && STAMPED.test(given)) return { content: source, version: given, userVersion: true };
    const version = uniqueVersion(given ?? '', sourceSha256);
    const at = /"version_info"\s*:\s*("(?:[^"\\]|\\.)*"|null)/.exec(text);
    if (at === null) return { content: source, version: undefined, userVersion: true };
    const valueStart = at.index + at[0].length - (at[1] ?? '').length;
    const replaced = `${text.slice(0, valueStart)}${JSON.stringify(version)}${text.slice(at.index + at[0].length)}`;
    return { content: Buffer.from(replaced, 'utf8'), version, userVersion: true };
  }
  const version = contentVersion(sourceSha256);
  const brace = text.indexOf('{');
  const prefix = Buffer.byteLength(text.slice(0, brace + 1), 'utf8');
  return {
    content: Buffer.concat([source.subarray(0, prefix), Buffer.from(`"version_info":${JSON.stringify(version)},`), source.subarray(prefix)]),
    version,
    userVersion: false,
  };
}

/** Offset of the first line that is not blank, a comment, a directive or a `---` marker. */
function firstKeyOffset(text: string, from: number): number | undefined {
  let offset = from;
  while (offset < text.length) {
    const end = text.indexOf('\n', offset);
    const line = text.slice(offset, end === -1 ? text.length : end).replace(/\r$/, '');
    const trimmed = line.trim();
    if (trimmed === '---') {
      // fine: the document's start marker; the key goes after it
    } else if (trimmed !== '' && !trimmed.startsWith('#') && !line.startsWith('%')) {
      // A top-level block key at column 0; anything else (`--- {...}`, an indented top level) is not stamped.
      return /^[^\s#%{[-]/.test(line) ? offset : undefined;
    }
    if (end === -1) return undefined;
    offset = end + 1;
  }
  return undefined;
}

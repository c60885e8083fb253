// The version Envoy reports back. Envoy's file-based subscription reads a file as a
// DiscoveryResponse; its top-level `version_info` becomes the subscription's `version_text` stat
// (e.g. `listener_manager.lds.version_text`) and the `version_info` in /config_dump once the update
// is accepted, and stays at the previous value when it is refused. Stamping a version derived from
// the content therefore lets the watcher tell which file Envoy runs. The user's text is kept byte
// for byte: one line is added, never a re-serialisation (comments, anchors and tags stay).
import { createHash } from 'node:crypto';
import { load } from 'js-yaml';
import { isConfigFile } from './yaml.js';

export interface Stamped {
  /** What to publish: the source itself, or the source with one `version_info` line added. */
  content: Buffer;
  /** The version Envoy will report for this content; undefined when it cannot be known from the text. */
  version: string | undefined;
  /** Whether `version` came from the user's own `version_info` (kept as written). */
  userVersion: boolean;
}

// A top-level key in block style starts at column 0; block scalars and nested keys are indented.
const TOP_RESOURCES = /^(["']?)resources\1[ \t]*:/m;
const TOP_VERSION = /^(["']?)version_info\1[ \t]*:(.*)$/m;

/** The version stamped on content with this sha256 (hex): short, and the same for the same text. */
export function contentVersion(sourceSha256: string): string {
  return `sha256:${sourceSha256.slice(0, 12)}`;
}

/**
 * Adds `version_info: "sha256:<12 hex>"` to an xDS file (a `.yaml`/`.yml`/`.json` file with a
 * top-level `resources` key) that has none, and reads the version of one that has.
 * - Block-style YAML: the line is inserted before the first top-level key (after a leading BOM,
 *   comments, directives and `---`), with the file's own line ending.
 * - JSON (also JSON text in a `.yaml` file): `"version_info":"...",` is inserted right after the
 *   opening `{`.
 * - Anything else (flow-style YAML, an indented top level, not an xDS file) is returned unchanged
 *   with `version: undefined`: the verdict then relies on Envoy's update counters alone.
 * Never throws; content that does not parse is left to the gate.
 */
export function stampVersion(name: string, source: Buffer, sourceSha256: string): Stamped {
  const unchanged = (version?: string, userVersion = false): Stamped => ({ content: source, version, userVersion });
  if (!isConfigFile(name)) return unchanged();
  const text = source.toString('utf8');
  const bom = text.startsWith('\uFEFF') ? 1 : 0;
  const firstChar = /\S/.exec(text.slice(bom));
  if (firstChar?.[0] === '{' || firstChar?.[0] === '[') return stampJson(text, bom, source, sourceSha256);
  const body = text.slice(bom); // `^` must see the first key of a file that starts with a BOM
  if (!TOP_RESOURCES.test(body)) return unchanged();

  const user = TOP_VERSION.exec(body);
  if (user !== null) return unchanged(yamlScalar(user[2] ?? ''), true);
  const version = contentVersion(sourceSha256);
  const at = firstKeyOffset(text, bom);
  if (at === undefined) return unchanged();
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const line = `version_info: "${version}"${eol}`;
  const prefix = Buffer.byteLength(text.slice(0, at), 'utf8');
  return {
    content: Buffer.concat([source.subarray(0, prefix), Buffer.from(line), source.subarray(prefix)]),
    version,
    userVersion: false,
  };
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

/** The version an already stamped (published) file carries, as Envoy will report it. */
export function versionOf(name: string, content: Buffer): string | undefined {
  const read = stampVersion(name, content, '');
  return read.userVersion ? read.version : undefined;
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
  if (given !== undefined) return { content: source, version: scalarText(given), userVersion: true };
  const version = contentVersion(sourceSha256);
  const brace = text.indexOf('{');
  const prefix = Buffer.byteLength(text.slice(0, brace + 1), 'utf8');
  return {
    content: Buffer.concat([source.subarray(0, prefix), Buffer.from(`"version_info":"${version}",`), source.subarray(prefix)]),
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

/** The string Envoy makes of a YAML scalar written after `version_info:` (quotes removed, comment dropped). */
function yamlScalar(rest: string): string | undefined {
  try {
    const parsed = load(`v:${rest}`) as { v?: unknown } | null;
    return parsed?.v === undefined || parsed.v === null ? undefined : scalarText(parsed.v);
  } catch {
    return rest.trim();
  }
}

function scalarText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

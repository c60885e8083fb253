// Reading YAML the way Envoy does, so the gate never refuses a file Envoy loads.
//
// Envoy reads a `.yaml`/`.yml` file source with yaml-cpp and turns the node tree into JSON
// (source/common/protobuf/yaml_utility.cc, parseYamlNode): `YAML::Load` takes the FIRST document of
// the stream and ignores the rest; tags are ignored (a node tagged `!foo`, `!!int` or `!!map` reads
// as if untagged), except that a mapping key tagged `!ignore` drops its pair; a repeated key keeps
// its last value; `<<` is an ordinary key (yaml-cpp has no merge keys: Envoy warns about an unknown
// field `<<`); plain `~`/`null`/`Null`/`NULL` and empty nodes are null. Checked against Envoy 1.40
// by test/sync/envoy-corpus.test.ts.
//
// js-yaml does the parsing (fast, see gate.ts) with a schema that mirrors those rules: every
// tag is accepted and leaves its node as it is, and only null is resolved from plain scalars (the
// gate never looks at numbers or booleans, so YAML 1.1 and 1.2 readings of `yes`/`0755` agree).
import { Schema, Type, YAMLException, load, type LoadOptions } from 'js-yaml';

/**
 * The files the watcher reads as configuration (gate, version stamp, verdict): `.yaml`, `.yml` and
 * `.json`, any case. Every other key (Lua, certificates, ...) is published as data, never parsed.
 */
export const CONFIG_FILE = /\.(ya?ml|json)$/i;

export function isConfigFile(name: string): boolean {
  return CONFIG_FILE.test(name);
}

// A key tagged `!ignore` is read as this prefix + its text, then dropped by dropIgnored().
const IGNORED = '\u0000envoy-xds-injector:ignore\u0000';

const anyTag = (kind: 'scalar' | 'sequence' | 'mapping'): Type =>
  new Type('', {
    kind,
    multi: true, // '' is a prefix of every tag: this type takes all of them
    construct: (data: unknown, tag?: string) => (tag === '!ignore' && typeof data === 'string' ? `${IGNORED}${data}` : data),
  });

// yaml-cpp's IsNullString: plain ~, null, Null, NULL (and empty nodes, which js-yaml makes null).
const plainNull = new Type('tag:envoy-xds-injector.io,2026:null', {
  kind: 'scalar',
  resolve: (data: unknown) => data === null || data === '' || data === '~' || data === 'null' || data === 'Null' || data === 'NULL',
  construct: () => null,
});

const ENVOY_SCHEMA = new Schema({ implicit: [plainNull], explicit: [anyTag('scalar'), anyTag('sequence'), anyTag('mapping')] });

// js-yaml refuses control characters (and NUL anywhere) that yaml-cpp reads inside quoted scalars.
// eslint-disable-next-line no-control-regex
const NON_PRINTABLE = /[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x84\x86-\x9F\uFFFE\uFFFF]/g;

// A document marker: `---` or `...` at column 0, followed by white space or the line's end.
const MARKER = /^(---|\.\.\.)(?=[ \t\r]|$)/;

/**
 * The text of the first document of a YAML stream (what yaml-cpp's `YAML::Load` reads), with the
 * same line numbers: everything from the marker that ends it is cut. Returns `text` itself when it
 * holds one document.
 */
export function firstDocument(text: string): string {
  let started = false;
  let offset = 0;
  for (const [index, rawLine] of text.split('\n').entries()) {
    const line = index === 0 ? rawLine.replace(/^\uFEFF/, '') : rawLine;
    const marker = MARKER.exec(line)?.[1];
    if (marker !== undefined) {
      if (marker === '---' && !started) {
        started = true; // the explicit start of the first document
      } else {
        return text.slice(0, offset);
      }
    } else if (!started && !line.startsWith('%') && !/^\s*(#.*)?\r?$/.test(line)) {
      started = true; // content: the first document began without a marker
    }
    offset += rawLine.length + 1;
  }
  return text;
}

/**
 * Parses `text` as Envoy's file loader would, returning the JSON-like value Envoy would convert to a
 * protobuf message. Throws js-yaml's YAMLException (with `mark`: 0-based line and column) for what
 * yaml-cpp refuses too: broken syntax, an undefined alias, tab indentation.
 */
export function loadLikeEnvoy(text: string, filename: string): unknown {
  const value = loadAsEnvoyReads(text, { filename, schema: ENVOY_SCHEMA, json: true }); // json: a repeated key overrides
  return text.includes('!ignore') ? dropIgnored(value, new Set()) : value;
}

/**
 * js-yaml's `load` with yaml-cpp's leniency: where js-yaml refuses the stream, only the first
 * document is read, with control characters made spaces (1:1, so the lines and columns of any error
 * stay those of the file). Throws what js-yaml throws for what yaml-cpp refuses too. The schema
 * (which tags and scalars) is the caller's: the gate's keeps strings, src/schema's converts them.
 */
export function loadAsEnvoyReads(text: string, options: LoadOptions): unknown {
  try {
    return load(text, options);
  } catch (err) {
    if (!(err instanceof YAMLException)) throw err;
    const lenient = firstDocument(text).replace(NON_PRINTABLE, ' ');
    if (lenient === text) throw err;
    return load(lenient, options);
  }
}

/** Removes pairs whose key was tagged `!ignore` and unmarks `!ignore`-tagged scalar values. */
function dropIgnored(value: unknown, seen: Set<object>): unknown {
  if (typeof value === 'string') return value.startsWith(IGNORED) ? value.slice(IGNORED.length) : value;
  if (typeof value !== 'object' || value === null || seen.has(value)) return value;
  seen.add(value); // aliases share objects
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) value[index] = dropIgnored(item, seen);
    return value;
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key.startsWith(IGNORED)) Reflect.deleteProperty(record, key);
    else record[key] = dropIgnored(record[key], seen);
  }
  return record;
}

// A plain (unquoted) key or value starting with `@` or a backtick: YAML reserves both indicators,
// and yaml-cpp refuses them too ("unknown token", measured with Envoy 1.40's --mode validate).
const RESERVED_START = /(^|[\s[{,:-])[@`]/;

/**
 * js-yaml's reason for a refused `text`, and, where the refused line has a plain key or value that
 * starts with `@` or a backtick, the cause in words: js-yaml says "bad indentation" or "missed comma"
 * there, which points away from the usual mistake, an unquoted `@type`.
 */
export function yamlErrorReason(err: YAMLException, text: string): string {
  const mark = (err as { mark?: { line: number } }).mark; // absent on errors js-yaml raises outside the scanner
  const line = mark === undefined ? undefined : text.split('\n')[mark.line];
  const unquoted = line?.replace(/"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|#.*$/g, '""');
  if (unquoted === undefined || !RESERVED_START.test(unquoted)) return err.reason;
  return `${err.reason} (a plain key or value cannot start with @ or \`: quote it, as in "@type")`;
}

// How Envoy reads the YAML scalar written after `version_info:`. Envoy loads a YAML file with
// yaml-cpp and turns each plain scalar into a JSON value before protobuf parses it
// (`parseYamlNode` in source/common/protobuf/yaml_utility.cc): what yaml-cpp decodes as a bool
// becomes a JSON bool, an integer in int32 range a JSON number, and protobuf takes neither for the
// string field `version_info`, so Envoy refuses the whole file (update_failure). Everything else
// stays the text as written: `2024-05-02`, `1.20` (not 1.2), `1e3`, `.inf`. Measured on Envoy
// 1.40.0; test/envoy/verdict-corpus.test.ts (04-version-read-as-envoy) keeps it honest.

/** What Envoy makes of a `version_info` scalar. */
export type EnvoyScalar =
  /** A string: Envoy reports exactly `value` (`''` for null, `~` or nothing). */
  | { kind: 'string'; value: string }
  /** A bool or an int32: Envoy refuses the file (a JSON bool/number for a string field). */
  | { kind: 'refused'; as: 'bool' | 'int' };

// yaml-cpp's convert<bool>::decode (src/convert.cpp): these words, in lower, Capitalised or UPPER case.
const BOOL_WORDS = ['y', 'n', 'yes', 'no', 'true', 'false', 'on', 'off'];
const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;

function isYamlCppBool(text: string): boolean {
  const lower = text.toLowerCase();
  if (!BOOL_WORDS.includes(lower)) return false;
  const capitalised = lower.charAt(0).toUpperCase() + lower.slice(1);
  return text === lower || text === capitalised || text === lower.toUpperCase();
}

/** yaml-cpp's convert<int64_t>::decode: decimal (optionally signed), 0x hex, 0o octal. */
function yamlCppInt(text: string): bigint | undefined {
  const match = /^([-+]?)(?:0x([0-9a-fA-F]+)|0o([0-7]+)|([0-9]+))$/.exec(text);
  if (match === null) return undefined;
  const digits = match[2] !== undefined ? `0x${match[2]}` : match[3] !== undefined ? `0o${match[3]}` : (match[4] ?? '');
  const value = BigInt(digits);
  return match[1] === '-' ? -value : value;
}

/**
 * Envoy's reading of a plain (unquoted) scalar's text (comment and surrounding blanks already
 * removed). An int64 outside int32 is turned into its decimal string by Envoy.
 */
export function envoyPlainScalar(text: string): EnvoyScalar {
  if (text === '' || text === '~' || text === 'null' || text === 'Null' || text === 'NULL') return { kind: 'string', value: '' };
  if (isYamlCppBool(text)) return { kind: 'refused', as: 'bool' };
  const int = yamlCppInt(text);
  if (int !== undefined) {
    if (int >= INT32_MIN && int <= INT32_MAX) return { kind: 'refused', as: 'int' };
    if (int >= -(2n ** 63n) && int < 2n ** 63n) return { kind: 'string', value: int.toString() };
  }
  return { kind: 'string', value: text };
}

/**
 * The scalar written after `version_info:` on one line (`rest` is the text after the colon), the
 * way Envoy reads it: quoted (`"..."` with JSON-like escapes, `'...'` with `''`) is a string;
 * plain goes through envoyPlainScalar. undefined when the value is not a one-line scalar (a block
 * scalar `|`, a flow collection, an anchor or tag): the caller leaves such a file as it is.
 */
export function envoyVersionScalar(rest: string): EnvoyScalar | undefined {
  const text = rest.trim();
  if (text.startsWith('"')) {
    const match = /^"((?:[^"\\]|\\.)*)"\s*(?:#.*)?$/.exec(text);
    if (match === null) return undefined;
    try {
      return { kind: 'string', value: JSON.parse(`"${match[1] ?? ''}"`) as string };
    } catch {
      return undefined; // a YAML-only escape (\x, \e, ...): leave the file as it is
    }
  }
  if (text.startsWith("'")) {
    const match = /^'((?:[^']|'')*)'\s*(?:#.*)?$/.exec(text);
    return match === null ? undefined : { kind: 'string', value: (match[1] ?? '').replaceAll("''", "'") };
  }
  if (/^[|>[{&*!%@`]/.test(text)) return undefined;
  // A plain scalar ends at ` #` (a comment); inner spaces are part of it.
  const plain = text.replace(/\s+#.*$/, '').trim();
  if (plain.startsWith('#')) return { kind: 'string', value: '' };
  return envoyPlainScalar(plain);
}

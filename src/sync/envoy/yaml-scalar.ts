// How Envoy reads a plain (unquoted) YAML scalar, and the one written after `version_info:`.
// Envoy loads a YAML file with yaml-cpp and turns each plain scalar into a JSON value before
// protobuf parses it (`parseYamlNode` in source/common/protobuf/yaml_utility.cc): what yaml-cpp's
// `convert<bool>` decodes becomes a JSON bool; what its `convert<int64_t>` decodes becomes a JSON
// number when in int32 range, else its decimal text (`std::to_string`); everything else stays the
// text as written, which protobuf then reads for the field's type (a quoted scalar always stays
// text). yaml-cpp's `convert<int64_t>` reads the text with a C++ stream whose base is unset
// (`stream.unsetf(std::ios::dec)`, include/yaml-cpp/node/convert.h), i.e. as `strtoll` with base
// 0: `0x`/`0X` is hexadecimal, a leading `0` octal, a sign allowed, and the whole text must be
// read. Measured on Envoy 1.40.0 (an integer field, then `version_info`): `060` is 48, `0x1F` 31,
// `+1` 1, `08` is the text "08" (not octal: protobuf then reads 8), `0o17` the text "0o17" (1.40's
// yaml-cpp predates its `0o` support: an integer field refuses it), `1e3`, `1.`, `.5`, `1_000`,
// `.inf` stay text. So protobuf reads the text `1e3` as 1000 in an integer field, `.5` as 0.5 in a
// double one, and refuses `1_000`, `.inf`, `.NaN` for any number. test/envoy/read-once-readings.test.ts
// and test/envoy/verdict-corpus.test.ts (04-version-read-as-envoy) keep it honest.

/** Envoy's JSON value of a plain scalar: null, a bool, a number (an int32), or text. */
export type EnvoyPlainValue = null | boolean | number | string;

/** What Envoy makes of a `version_info` scalar. */
export type EnvoyScalar =
  /** A string: Envoy reports exactly `value` (`''` for null, `~` or nothing). */
  | { kind: 'string'; value: string }
  /** A bool or an int32: Envoy refuses the file (a JSON bool/number for a string field). */
  | { kind: 'refused'; as: 'bool' | 'int' };

// yaml-cpp's convert<bool>::decode (src/convert.cpp): these words, in lower, Capitalised or UPPER case.
const BOOL_WORDS = ['y', 'n', 'yes', 'no', 'true', 'false', 'on', 'off'];
const TRUE_WORDS = ['y', 'yes', 'true', 'on'];
const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;

function isYamlCppBool(text: string): boolean {
  const lower = text.toLowerCase();
  if (!BOOL_WORDS.includes(lower)) return false;
  const capitalised = lower.charAt(0).toUpperCase() + lower.slice(1);
  return text === lower || text === capitalised || text === lower.toUpperCase();
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * yaml-cpp's convert<int64_t>::decode as Envoy 1.40 builds it: `strtoll` with base 0 (see above);
 * undefined when it fails (not all read, out of int64 range). `08` fails: octal stops at `8`.
 */
export function yamlCppInt(text: string): bigint | undefined {
  const match = /^([-+]?)(?:0[xX]([0-9a-fA-F]+)|0([0-7]*)|([1-9][0-9]*))$/.exec(text);
  if (match === null) return undefined;
  const magnitude = match[2] !== undefined ? BigInt(`0x${match[2]}`) : match[3] !== undefined ? (match[3] === '' ? 0n : BigInt(`0o${match[3]}`)) : BigInt(match[4] ?? '0');
  const value = match[1] === '-' ? -magnitude : magnitude;
  return value < INT64_MIN || value > INT64_MAX ? undefined : value;
}

/** yaml-cpp's null (IsNullString): `~`, `null`, `Null`, `NULL`, or nothing. */
export function isYamlCppNull(text: string): boolean {
  return text === '' || text === '~' || text === 'null' || text === 'Null' || text === 'NULL';
}

/**
 * The JSON value Envoy makes of a plain scalar's text (parseYamlNode, above): null, yaml-cpp's
 * bool, its int64 (a number in int32 range, else the decimal text), or the text as written. Pure.
 */
export function envoyPlainValue(text: string): EnvoyPlainValue {
  if (isYamlCppNull(text)) return null;
  if (isYamlCppBool(text)) return TRUE_WORDS.includes(text.toLowerCase());
  const int = yamlCppInt(text);
  if (int === undefined) return text;
  return int >= INT32_MIN && int <= INT32_MAX ? Number(int) : int.toString();
}

/**
 * Envoy's reading of a plain (unquoted) `version_info` (comment and surrounding blanks already
 * removed): a bool or an int32 makes Envoy refuse the file; an int64 outside int32 is its decimal
 * text (`0100000000000` is "8589934592"); the rest is the text.
 */
export function envoyPlainScalar(text: string): EnvoyScalar {
  const value = envoyPlainValue(text);
  if (value === null) return { kind: 'string', value: '' };
  if (typeof value === 'boolean') return { kind: 'refused', as: 'bool' };
  if (typeof value === 'number') return { kind: 'refused', as: 'int' };
  return { kind: 'string', value };
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

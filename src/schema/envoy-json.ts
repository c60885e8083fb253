// A `.yaml`/`.json` file source read into the JSON value Envoy hands to protobuf's JSON parser.
//
// Envoy reads YAML with yaml-cpp and converts the node tree to JSON itself
// (source/common/protobuf/yaml_utility.cc, parseYamlNode): a scalar tagged `!` (every quoted
// scalar) stays a string; otherwise yaml-cpp's convert<bool> decides (y/yes/true/on and n/no/false/off,
// in lower, UPPER or Capitalised case), then convert<int64_t> (a C++ stream with the base taken from
// the prefix: `0x1F` hex, `0755` octal, `+5`): a value in int32's range becomes a number, a larger
// one its decimal string; anything else (floats included) stays a string, which protobuf's JSON
// parser reads by the field's type. Mapping keys are always their text. First document only, tags
// ignored, `!ignore` keys dropped, null from plain ~/null/Null/NULL/empty, a repeated key keeps its
// last value: the rules of src/sync/envoy/yaml.ts (the gate), which this module follows.
// A `.json` file is read by protobuf's JSON parser; JSON.parse reads the same values, and what it
// refuses but protobuf takes (trailing commas, single quotes) is read as YAML, JSON's superset.
import { Schema, Type, YAMLException } from 'js-yaml';
import { loadAsEnvoyReads } from './envoy-yaml.js';

const IGNORED = '\u0000envoy-xds-injector:ignore\u0000';

/** A plain scalar yaml-cpp converts: the value Envoy sees, and the text a mapping key keeps. */
class Converted {
  constructor(
    readonly raw: string,
    readonly value: boolean | number | string,
  ) {}
  toString(): string {
    return this.raw; // js-yaml turns keys into strings with String(): keys keep their text
  }
  readonly [Symbol.toStringTag] = 'Converted'; // js-yaml calls toString() only on objects that are not plain
}

// yaml-cpp's convert<bool> takes the word in lower, UPPER or Capitalised case: the three spellings
// of each word, looked up whole (no case folding per scalar).
const BOOLEANS = new Map<string, boolean>();
for (const [word, value] of [['y', true], ['yes', true], ['true', true], ['on', true], ['n', false], ['no', false], ['false', false], ['off', false]] as const) {
  for (const spelling of [word, word.toUpperCase(), `${word.charAt(0).toUpperCase()}${word.slice(1)}`]) BOOLEANS.set(spelling, value);
}

/** yaml-cpp's convert<bool>: the word in lower, UPPER or Capitalised case. */
export function yamlCppBool(text: string): boolean | undefined {
  return BOOLEANS.get(text);
}

const INTEGER = /^([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)[ \t\r\n]*$/;
const INT64_MAX = 2n ** 63n - 1n;

/**
 * A decimal of at most 9 digits, no leading zero, optional minus (or `0`): its number, read without
 * a regex or BigInt (most integers of a file are so). Undefined for anything else.
 */
function smallDecimal(text: string): number | undefined {
  const length = text.length;
  let at = 0;
  if (text.charCodeAt(0) === 0x2d) {
    at = 1; // '-'
    if (length === 1 || length > 10) return undefined;
  } else if (length === 0 || length > 9) {
    return undefined;
  }
  const first = text.charCodeAt(at);
  if (first === 0x30) return length === 1 ? 0 : undefined; // `0`; `-0` and leading zeros: the general reading
  if (first < 0x31 || first > 0x39) return undefined;
  let value = first - 0x30;
  for (at++; at < length; at++) {
    const digit = text.charCodeAt(at) - 0x30;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  return text.charCodeAt(0) === 0x2d ? -value : value;
}

/** yaml-cpp's convert<int64_t> then Envoy's int32 rule: a number, a decimal string, or undefined. */
export function yamlCppInteger(text: string): number | string | undefined {
  const small = smallDecimal(text); // most integers: well inside int32, no BigInt needed
  if (small !== undefined) return small;
  const match = INTEGER.exec(text);
  if (!match) return undefined;
  const digits = match[2] ?? '0';
  const magnitude = /^0[xX]/.test(digits) ? BigInt(digits) : digits.length > 1 && digits.startsWith('0') ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
  const value = match[1] === '-' ? -magnitude : magnitude;
  if (value > INT64_MAX || value < -INT64_MAX - 1n) return undefined;
  return value >= -(2n ** 31n) && value < 2n ** 31n ? Number(value) : value.toString();
}

// js-yaml asks resolve() then construct() for the same scalar: the second call reuses the first's answer.
let lastText: string | undefined;
let lastValue: boolean | number | string = '';

// Only a scalar starting so can convert, which its first character tells: a sign or digit (an
// integer: no bool word starts so), or the first letter of a bool word (never an integer).
const INTEGER_START = 1;
const BOOL_START = 2;
const START = new Uint8Array(128);
for (const c of '0123456789+-') START[c.charCodeAt(0)] = INTEGER_START;
for (const c of 'yYnNtTfFoO') START[c.charCodeAt(0)] = BOOL_START;

function convert(text: string): boolean | number | string {
  if (text === lastText) return lastValue;
  const start = START[text.charCodeAt(0)]; // undefined past ASCII and for ''
  // A bool word has at most 5 letters: a longer key or value (`timeout`, `name_x`) skips the lookup.
  const value = start === INTEGER_START ? (yamlCppInteger(text) ?? text) : start === BOOL_START && text.length <= 5 ? (BOOLEANS.get(text) ?? text) : text;
  lastText = text;
  lastValue = value;
  return value;
}

/** yaml-cpp's IsNullString: plain ~, null, Null, NULL, and empty nodes (which js-yaml makes null or ''). */
const isNull = (data: unknown): boolean => data === null || data === '' || data === '~' || data === 'null' || data === 'Null' || data === 'NULL';

// Whether the text being read produced a Converted wrapper (finish() must unwrap it).
const reading = { wrapped: false };

/**
 * The value of a scalar yaml-cpp converts. Bare when its text is what String() gives back (`8080`,
 * `true`: most of them), so that a key keeps its text without a wrapper; otherwise (`yes`, `0x1F`,
 * `+5`) a Converted that finish() unwraps.
 */
function converted(data: string): boolean | number | string | Converted {
  const value = convert(data);
  if (String(value) === data) return value;
  reading.wrapped = true;
  return new Converted(data, value);
}

/**
 * Whether a plain scalar is null or converts: js-yaml asks this of every plain scalar, keys
 * included (about 40 per cluster of a CDS file). Most start with a character no integer, bool word
 * or null word starts with (`lb_policy`, `STRICT_DNS`): those are only null when empty or `~`,
 * answered without the null words and convert().
 */
function resolvePlain(data: unknown): boolean {
  if (typeof data !== 'string') return data === null;
  if (START[data.charCodeAt(0)] === 0) return data === '~'; // '' has no first character: START[NaN], undefined
  return isNull(data) || convert(data) !== data;
}

// One implicit type for every plain scalar (js-yaml asks each implicit type in turn): null, else
// the value yaml-cpp converts it to; a scalar that neither stays the string js-yaml read.
const plainScalar = new Type('tag:envoy-xds-injector.io,2026:plain', {
  kind: 'scalar',
  resolve: resolvePlain,
  construct: (data: string | null) => (isNull(data) ? null : converted(data ?? '')),
});

const anyTag = (kind: 'scalar' | 'sequence' | 'mapping'): Type =>
  new Type('', {
    kind,
    multi: true,
    construct: (data: unknown, tag?: string) => {
      if (tag === '!ignore' && typeof data === 'string') return `${IGNORED}${data}`;
      // A tagged scalar is converted like a plain one, except the non-specific tag `!`.
      if (kind === 'scalar' && typeof data === 'string' && tag !== '!' && convert(data) !== data) return converted(data);
      return data;
    },
  });

const SCHEMA = new Schema({ implicit: [plainScalar], explicit: [anyTag('scalar'), anyTag('sequence'), anyTag('mapping')] });

/**
 * The JSON value Envoy builds from a file source's text (`.yaml`/`.yml` by yaml-cpp's rules,
 * anything else as JSON). Throws YAMLException (`mark`: 0-based line/column) or SyntaxError for
 * text Envoy cannot parse either.
 */
export function envoyJson(text: string, filename: string): unknown {
  if (!/\.ya?ml$/i.test(filename)) {
    if (text.startsWith('\uFEFF')) throw new SyntaxError('a byte order mark before the JSON (protobuf\'s JSON parser refuses it)');
    try {
      return JSON.parse(text);
    } catch (err) {
      // Only JSON-looking text: block YAML in a .json file is refused by Envoy's JSON parser.
      if (!text.trimStart().startsWith('{')) throw err;
      try {
        const value = readYaml(text, filename);
        if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value;
      } catch {
        // fall through: report JSON's own error
      }
      throw err;
    }
  }
  return readYaml(text, filename);
}

// What finish() has to act on besides wrappers: `!ignore` tags, and a collection used as a mapping
// key, which needs an explicit key (`? `), a flow collection before a `:`, or an alias (so an anchor).
// Text with none of these (most files) skips finish()'s walk over every value.
const FINISH_NEEDED = /!ignore|\?\s|[}\]][ \t]*:|&/;

function readYaml(text: string, filename: string): unknown {
  let value: unknown;
  let wrappers: boolean;
  try {
    value = loadAsEnvoyReads(text, { filename, schema: SCHEMA, json: true });
  } finally {
    wrappers = reading.wrapped;
    reading.wrapped = false;
  }
  if (!wrappers && !FINISH_NEEDED.test(text)) return value;
  return finish(value, new Map());
}

/** Unwraps converted scalars and drops `!ignore`-tagged keys (aliases share objects: once each). */
function finish(value: unknown, seen: Map<object, unknown>): unknown {
  if (value instanceof Converted) return value.value;
  if (typeof value === 'string') return value.startsWith(IGNORED) ? value.slice(IGNORED.length) : value;
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return seen.get(value);
  seen.set(value, value);
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) value[index] = finish(item, seen);
    return value;
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    // js-yaml names a mapping used as a key so; yaml-cpp cannot read it as a string and Envoy refuses it.
    if (key === '[object Object]') throw new YAMLException('a mapping used as a mapping key (Envoy reads keys as strings)');
    if (key.startsWith(IGNORED)) Reflect.deleteProperty(record, key);
    else record[key] = finish(record[key], seen);
  }
  return record;
}

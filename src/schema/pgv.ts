// protoc-gen-validate (PGV) rules, evaluated on decoded values: the constraints Envoy checks after
// parsing (MessageUtil::validate), which refuse a file with "Proto constraint validation failed".
// The rules come from the `validate.rules` field option (validate/validate.proto), read as their
// proto3 JSON (camelCase names, 64-bit numbers as strings). Only the rules listed here are
// evaluated; any other rule is skipped, so a file is never refused for a rule we do not know.
// Messages follow PGV's generated Go code (github.com/envoyproxy/protoc-gen-validate, templates/goshared).

export type RuleSet = Record<string, unknown>;

const NUMERIC = new Set(['float', 'double', 'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64']);

/** A Duration as nanoseconds. */
export function durationNanos(seconds: bigint | number, nanos: number): bigint {
  return BigInt(seconds) * 1_000_000_000n + BigInt(nanos);
}

/** "1.5s" (proto3 JSON Duration, as toJson writes rules) in nanoseconds. */
function parseDuration(text: unknown): bigint | undefined {
  const match = typeof text === 'string' ? /^(-?)(\d+)(?:\.(\d{1,9}))?s$/.exec(text) : null;
  if (!match) return undefined;
  const nanos = BigInt(match[2] ?? '0') * 1_000_000_000n + BigInt((match[3] ?? '').padEnd(9, '0'));
  return match[1] === '-' ? -nanos : nanos;
}

function formatDuration(nanos: bigint): string {
  const sign = nanos < 0n ? '-' : '';
  const abs = nanos < 0n ? -nanos : nanos;
  const frac = (abs % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${sign}${abs / 1_000_000_000n}${frac ? `.${frac}` : ''}s`;
}

/** Range checks shared by numbers and durations: PGV's messages, including exclusive ranges. */
function range<T extends number | bigint>(value: T, rules: { lt?: T; lte?: T; gt?: T; gte?: T }, show: (v: T) => string): string | undefined {
  const { lt, lte, gt, gte } = rules;
  const upper = lt ?? lte;
  const lower = gt ?? gte;
  const upperOk = lt !== undefined ? value < lt : lte !== undefined ? value <= lte : true;
  const lowerOk = gt !== undefined ? value > gt : gte !== undefined ? value >= gte : true;
  const upperWord = lt !== undefined ? 'less than' : 'less than or equal to';
  const lowerWord = gt !== undefined ? 'greater than' : 'greater than or equal to';
  if (upper !== undefined && lower !== undefined) {
    if (upper >= lower) {
      if (!(upperOk && lowerOk)) return `value must be inside range ${gt !== undefined ? '(' : '['}${show(lower)}, ${show(upper)}${lt !== undefined ? ')' : ']'}`;
    } else if (!(upperOk || lowerOk)) {
      return `value must be outside range [${show(upper)}, ${show(lower)}]`;
    }
    return undefined;
  }
  if (!upperOk && upper !== undefined) return `value must be ${upperWord} ${show(upper)}`;
  if (!lowerOk && lower !== undefined) return `value must be ${lowerWord} ${show(lower)}`;
  return undefined;
}

function inList(value: unknown, rules: RuleSet, key: (v: unknown) => string = String): string | undefined {
  const allowed = rules.in as unknown[] | undefined;
  if (allowed && allowed.length > 0 && !allowed.some((item) => key(item) === key(value))) return `value must be in list [${allowed.map(key).join(' ')}]`;
  const denied = rules.notIn as unknown[] | undefined;
  if (denied?.some((item) => key(item) === key(value))) return `value must not be in list [${denied.map(key).join(' ')}]`;
  if (rules.const !== undefined && key(rules.const) !== key(value)) return `value must equal ${key(rules.const)}`;
  return undefined;
}

const num = (value: unknown): number | undefined => (value === undefined ? undefined : Number(value));

// Each rule set is read once (bounds parsed, lists noted), keyed by the rules object the schema
// plan holds: a check then costs comparisons, not parsing, on every value of a large file.
const compiled = new WeakMap<RuleSet, unknown>();
function compile<T>(rules: RuleSet, make: (rules: RuleSet) => T): T {
  let found = compiled.get(rules) as T | undefined;
  if (found === undefined) {
    found = make(rules);
    compiled.set(rules, found);
  }
  return found;
}
const hasList = (rules: RuleSet): boolean => rules.in !== undefined || rules.notIn !== undefined || rules.const !== undefined;
const numberKey = (item: unknown): string => String(Number(item));
const durationKey = (item: unknown): string => formatDuration(parseDuration(item) ?? 0n);

interface NumberRules { list: boolean; bounds: { lt?: number; lte?: number; gt?: number; gte?: number } }
const numberRules = (rules: RuleSet): NumberRules => ({ list: hasList(rules), bounds: { lt: num(rules.lt), lte: num(rules.lte), gt: num(rules.gt), gte: num(rules.gte) } });

/** Checks a number (int/uint/float kinds; 64-bit values may be bigint). */
export function checkNumber(value: number | bigint, rules: RuleSet): string | undefined {
  const v = Number(value);
  const { list, bounds } = compile(rules, numberRules);
  return (list ? inList(v, rules, numberKey) : undefined) ?? range(v, bounds, String);
}

interface DurationRules { list: boolean; bounds: { lt?: bigint; lte?: bigint; gt?: bigint; gte?: bigint } }
const durationRules = (rules: RuleSet): DurationRules => ({ list: hasList(rules), bounds: { lt: parseDuration(rules.lt), lte: parseDuration(rules.lte), gt: parseDuration(rules.gt), gte: parseDuration(rules.gte) } });

/** Checks a duration given in nanoseconds. */
export function checkDuration(nanos: bigint, rules: RuleSet): string | undefined {
  const { list, bounds } = compile(rules, durationRules);
  const found = list ? inList(formatDuration(nanos), rules, durationKey) : undefined;
  return found ?? range(nanos, bounds, formatDuration);
}

// PGV's well-known regexes for HTTP headers (validate.proto, KnownRegex).
const HEADER_NAME_STRICT = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;
// eslint-disable-next-line no-control-regex
const HEADER_VALUE_STRICT = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;
// eslint-disable-next-line no-control-regex
const HEADER_LOOSE = /^[^\u0000\u000A\u000D]*$/;

interface StringRules {
  list: boolean;
  len?: number; minLen?: number; maxLen?: number;
  lenBytes?: number; minBytes?: number; maxBytes?: number;
  /** `pattern` compiled; undefined when absent or not readable by JS (then skipped). */
  pattern?: RegExp;
  wellKnown?: RegExp;
}

function stringRules(rules: RuleSet): StringRules {
  let pattern: RegExp | undefined;
  if (typeof rules.pattern === 'string') {
    try {
      pattern = new RegExp(rules.pattern, 'u'); // RE2 syntax; a pattern JS cannot read is skipped
    } catch {
      pattern = undefined;
    }
  }
  let wellKnown: RegExp | undefined;
  if (rules.wellKnownRegex === 'HTTP_HEADER_NAME' || rules.wellKnownRegex === 'HTTP_HEADER_VALUE') {
    const strict = rules.strict !== false;
    wellKnown = !strict ? HEADER_LOOSE : rules.wellKnownRegex === 'HTTP_HEADER_NAME' ? HEADER_NAME_STRICT : HEADER_VALUE_STRICT;
  }
  return {
    list: hasList(rules),
    len: num(rules.len), minLen: num(rules.minLen), maxLen: num(rules.maxLen),
    lenBytes: num(rules.lenBytes), minBytes: num(rules.minBytes), maxBytes: num(rules.maxBytes),
    pattern, wellKnown,
  };
}

/**
 * The code points of a string, as its iterator yields them (Array.from(value).length: a surrogate
 * pair is one, a lone surrogate one too) without building the array: every name of a large file is
 * counted.
 */
export function runeCount(value: string): number {
  let count = 0;
  for (let at = 0; at < value.length; at++, count++) {
    const unit = value.charCodeAt(at);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = value.charCodeAt(at + 1);
      if (next >= 0xdc00 && next <= 0xdfff) at++;
    }
  }
  return count;
}

/** Checks a string (lengths in characters, bytes in UTF-8). */
export function checkString(value: string, rules: RuleSet): string | undefined {
  if (rules.ignoreEmpty === true && value === '') return undefined;
  const r = compile(rules, stringRules);
  if (r.list) {
    const listed = inList(value, rules);
    if (listed) return listed;
  }
  if (r.len !== undefined || r.minLen !== undefined || r.maxLen !== undefined) {
    const chars = runeCount(value); // runes, as PGV's utf8.RuneCountInString
    if (r.len !== undefined && chars !== r.len) return `value length must be ${r.len} runes`;
    if (r.minLen !== undefined && chars < r.minLen) return `value length must be at least ${r.minLen} runes`;
    if (r.maxLen !== undefined && chars > r.maxLen) return `value length must be at most ${r.maxLen} runes`;
  }
  if (r.lenBytes !== undefined || r.minBytes !== undefined || r.maxBytes !== undefined) {
    const bytes = Buffer.byteLength(value);
    if (r.lenBytes !== undefined && bytes !== r.lenBytes) return `value length must be ${r.lenBytes} bytes`;
    if (r.minBytes !== undefined && bytes < r.minBytes) return `value length must be at least ${r.minBytes} bytes`;
    if (r.maxBytes !== undefined && bytes > r.maxBytes) return `value length must be at most ${r.maxBytes} bytes`;
  }
  if (typeof rules.prefix === 'string' && !value.startsWith(rules.prefix)) return `value does not have prefix ${JSON.stringify(rules.prefix)}`;
  if (typeof rules.suffix === 'string' && !value.endsWith(rules.suffix)) return `value does not have suffix ${JSON.stringify(rules.suffix)}`;
  if (typeof rules.contains === 'string' && !value.includes(rules.contains)) return `value does not contain substring ${JSON.stringify(rules.contains)}`;
  if (typeof rules.notContains === 'string' && value.includes(rules.notContains)) return `value contains substring ${JSON.stringify(rules.notContains)}`;
  if (r.pattern && !r.pattern.test(value)) return `value does not match regex pattern ${JSON.stringify(rules.pattern)}`;
  if (r.wellKnown && !r.wellKnown.test(value)) return `value does not match regex pattern ${JSON.stringify(r.wellKnown.source)}`;
  return undefined;
}

/** The rule kind of a FieldRules JSON: its single key (`uint32`, `string`, `repeated`, ...). */
export function ruleKind(rules: RuleSet): { kind: string; rules: RuleSet } | undefined {
  for (const [kind, value] of Object.entries(rules)) {
    if (kind === 'message') continue;
    if (typeof value === 'object' && value !== null) return { kind, rules: value as RuleSet };
  }
  return undefined;
}

export const isNumericKind = (kind: string): boolean => NUMERIC.has(kind);

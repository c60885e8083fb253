// Whether two parsed xDS resources are the same for Envoy, as far as the watcher can tell without
// Envoy's schema (about 100 MB loaded: never in the watcher, src/schema/schema.ts). Envoy keeps a
// listener, route configuration or cluster whose proto hash did not change
// (`ListenerManagerImpl::addOrUpdateListenerInternal`, source/common/listener_manager/listener_manager_impl.cc:
// `MessageUtil::hash(config)`, then `blockUpdate(hash)`). In 1.40 that hash is
// `DeterministicProtoHash::hash` (source/common/protobuf/deterministic_hash.cc): xxHash64 over the
// fields `ListFields` returns, in field-number order, each with its number; map entries in any
// order; an `Any` by its unpacked message; unknown fields not at all. So, of what a user writes:
// key order, a duration's spelling (`1s`, `1.0s`), an integer quoted or not (`"60"`, `60`, as
// Envoy reads them: a plain `060` is 48, envoy/yaml-scalar.ts), a
// field's JSON name (`statPrefix` for `stat_prefix`), a scalar at its zero value (`0`, `""`, an
// enum's first value) and an empty list count for nothing; an empty message (`{}`) or a wrapper
// at zero (`use_remote_address: false`, a google.protobuf.BoolValue) counts (measured on 1.40:
// `listener_manager.listener_modified`). Without the schema the watcher cannot tell a message
// from a scalar, so it counts every zero value as absent: a change Envoy sees that the watcher
// does not makes the watcher hold a read-once file back (the published file stays what Envoy
// runs); what it cannot see at all (a misspelt field, an enum's zero value by name, `AUTO`) is
// a change to the watcher and not to Envoy (docs/sync.md, the limits of read-once files).

/** Proto JSON's Duration (`-1.5s`); any other string is compared as written. */
const DURATION = /^(-)?(\d+)(?:\.(\d{0,9}))?s$/;
/**
 * The scalars Envoy's YAML reading takes for a boolean (yaml-cpp's `convert<bool>`: y, yes, true, on
 * and n, no, false, off, in lower, upper or first-letter case), and proto JSON's "true"/"false" in a
 * string: measured on 1.40, `normalize_path: yes`, `on` or `"true"` hash as `true`, and an added
 * `merge_slashes: "false"` as nothing. Read as booleans in any field: where the field is a string,
 * a change the watcher misses only holds a read-once file back (the disk stays what Envoy runs).
 */
const TRUE = /^(?:y|Y|yes|Yes|YES|true|True|TRUE|on|On|ON)$/;
const FALSE = /^(?:n|N|no|No|NO|false|False|FALSE|off|Off|OFF)$/;
/**
 * Text protobuf's JSON parser reads as a number for an integer or floating field: a sign, decimal
 * digits (a leading 0 is not octal), a fraction, an exponent, or `0x` hexadecimal. Measured on
 * 1.40 with quoted scalars: "060" is 60, "+1" 1, "0x1F" and "0X1F" 31, "1e3" 1000, "+.5" 0.5,
 * "-0x10" -16; " 1" is refused. A plain scalar reaches it only when yaml-cpp did not read it as an
 * integer (`08`, `1e3`: parseConfig reads `060` as 48, envoy/yaml-scalar.ts).
 */
const NUMBER = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;
const HEX = /^([-+]?)0[xX]([0-9a-fA-F]+)$/;

/**
 * A string that is the same for two parsed values exactly when the watcher takes them for the same
 * proto (see above): keys sorted and in snake_case (`@type` kept), zero values and empty lists
 * left out, durations and numbers in one spelling; with `asSet`, lists in any order. Pure.
 */
export function protoForm(value: unknown, opts: { asSet?: boolean } = {}): string {
  return form(value, 0, opts.asSet === true) ?? '';
}

/**
 * The form of `value`, or undefined when it is a zero value (absent for Envoy's hash). `asSet`:
 * every list in any order, as `MessageDifferencer` with `AS_SET` compares repeated fields.
 */
function form(value: unknown, depth: number, asSet: boolean): string | undefined {
  if (depth > 256 || value === null || value === undefined || value === false || value === '') return undefined;
  if (Array.isArray(value)) {
    if (value.length === 0) return undefined;
    const items = value.map((item) => form(item, depth + 1, asSet) ?? '0');
    return `[${(asSet ? items.sort() : items).join(',')}]`;
  }
  if (typeof value === 'object') {
    const entries: [string, string][] = [];
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      const itemForm = form(item, depth + 1, asSet);
      if (itemForm !== undefined) entries.push([key.startsWith('@') ? key : snake(key), itemForm]);
    }
    if (entries.length === 0) return undefined;
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${item}`).join(',')}}`;
  }
  if (typeof value === 'number') return value === 0 ? undefined : `#${String(value)}`;
  if (typeof value === 'bigint') return value === 0n ? undefined : `#${value.toString()}`;
  if (typeof value === 'string') {
    if (TRUE.test(value)) return 'true';
    if (FALSE.test(value)) return undefined;
    const duration = DURATION.exec(value);
    if (duration !== null) {
      const nanos = (duration[3] ?? '').padEnd(9, '0').replace(/0+$/, '');
      const seconds = BigInt(duration[2] ?? '0').toString();
      if (seconds === '0' && nanos === '') return undefined;
      return `${duration[1] ?? ''}${seconds}${nanos === '' ? '' : `.${nanos}`}s`;
    }
    const hex = HEX.exec(value);
    if (NUMBER.test(value) || hex !== null) {
      const n = hex !== null ? (hex[1] === '-' ? -1n : 1n) * BigInt(`0x${hex[2] ?? '0'}`) : /^[-+]?\d+$/.test(value) ? BigInt(value) : Number(value);
      return n === 0n || n === 0 ? undefined : `#${n.toString()}`;
    }
    return JSON.stringify(value);
  }
  return JSON.stringify(value);
}

/** A field's proto name from its JSON name (`statPrefix` → `stat_prefix`); a snake_case name as it is. */
export function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

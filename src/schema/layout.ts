// Reading a decoded message as @bufbuild/protobuf 2.17.0 lays it out, without its reflect API.
//
// The walk (walk.ts) reads every field it checks of every message of a file: through reflect(), each
// message costs an object with two Maps, each list a wrapper and an iterator, each item another
// reflect object: about a third of the time of a 1 MiB check. protobuf-es messages are plain
// objects, and these functions answer what ReflectMessage.isSet/get/oneofCase answer
// (@bufbuild/protobuf/dist/esm/reflect/reflect.js and unsafe.js, 2.17.0), from the fields themselves:
//   - a field is the property `localName`; a oneof member lives in `message[oneof.localName]` as
//     `{ case: localName, value }`;
//   - a field with explicit presence is set when its own property is defined; one with implicit
//     presence when it is not its zero value (a list or map: not empty);
//   - a singular (not oneof) field of a wrapper type (google.protobuf.UInt32Value, ...) holds the
//     bare value; a Struct field (outside google.protobuf.Value) holds a JSON object;
//   - 64-bit integers are bigint, or strings for fields with jstype JS_STRING (longAsString);
//   - map keys are the object's keys as strings.
// That is protobuf-es's message layout, not its documented API: package.json pins the version, and
// test/unit/schema-layout.test.ts compares these functions with the reflect API over every field of
// every message type of Envoy's schema, so an upgrade that changes the layout fails there first.
import { protoInt64, ScalarType, type DescField } from '@bufbuild/protobuf';
import { isScalarZeroValue, scalarZeroValue } from '@bufbuild/protobuf/reflect';
import { FeatureSet_FieldPresence, isWrapperDesc } from '@bufbuild/protobuf/wkt';

/** A decoded message: a plain object keyed by the fields' local names. */
export type Local = Record<string, unknown>;

/** How to read one field of a decoded message (derived once per field from its descriptor). */
export interface FieldAccess {
  field: DescField;
  localName: string;
  /** The oneof's local name, for a oneof member. */
  oneofName: string | undefined;
  /** Presence is explicit (a message, a proto3 `optional`, a oneof member): set means defined. */
  explicit: boolean;
  /** A singular wrapper-typed field (not in a oneof): the message holds the bare value. */
  unwrapped: boolean;
  /** An enum field's default (its first value), the value it reads as when unset. */
  enumZero: number | undefined;
}

export function fieldAccess(field: DescField): FieldAccess {
  return {
    field,
    localName: field.localName,
    oneofName: field.oneof?.localName,
    explicit: field.presence !== FeatureSet_FieldPresence.IMPLICIT,
    unwrapped: field.fieldKind === 'message' && field.oneof === undefined && isWrapperDesc(field.message),
    enumZero: field.fieldKind === 'enum' ? field.enum.values[0]?.number : undefined,
  };
}

/** The field's stored value (a oneof member's value when it is the case set), as the message holds it. */
export function localValue(access: FieldAccess, message: Local): unknown {
  if (access.oneofName !== undefined) {
    const oneof = message[access.oneofName] as { case: string | undefined; value?: unknown };
    return oneof.case === access.localName ? oneof.value : undefined;
  }
  return message[access.localName];
}

/** ReflectMessage.isSet. */
export function isSet(access: FieldAccess, message: Local): boolean {
  const name = access.localName;
  if (access.oneofName !== undefined) return (message[access.oneofName] as { case: string | undefined }).case === name;
  const value = message[name];
  if (access.explicit) return value !== undefined && Object.prototype.hasOwnProperty.call(message, name);
  const { field } = access;
  switch (field.fieldKind) {
    case 'list':
      return (value as unknown[]).length > 0;
    case 'map':
      return Object.keys(value as object).length > 0;
    case 'scalar':
      return !isScalarZeroValue(field.scalar, value);
    case 'enum':
      return value !== access.enumZero;
  }
  throw new Error(`${field.toString()}: message field with implicit presence`);
}

/** The oneof's case (a member's local name), or undefined: ReflectMessage.oneofCase by name. */
export function oneofCase(message: Local, oneofName: string): string | undefined {
  return (message[oneofName] as { case: string | undefined }).case;
}

/** ReflectMessage.get of a scalar or enum field: the zero value or enum default when unset, 64-bit strings as bigint. */
export function scalarValue(access: FieldAccess, message: Local): unknown {
  const value = localValue(access, message);
  const { field } = access;
  if (field.fieldKind === 'enum') return value ?? access.enumZero;
  if (field.fieldKind !== 'scalar') return value;
  return value === undefined ? scalarZeroValue(field.scalar, false) : longValue(field, field.scalar, value);
}

/** A list item or a scalar as reflect reads it: 64-bit strings (longAsString) as bigint. */
export function longValue(field: DescField, scalar: ScalarType | undefined, value: unknown): unknown {
  if (!('longAsString' in field) || !field.longAsString || typeof value !== 'string') return value;
  switch (scalar) {
    case ScalarType.INT64:
    case ScalarType.SFIXED64:
    case ScalarType.SINT64:
      return protoInt64.parse(value);
    case ScalarType.FIXED64:
    case ScalarType.UINT64:
      return protoInt64.uParse(value);
    default:
      return value;
  }
}

/**
 * The `value` of a wrapper message held by a field (google.protobuf.UInt32Value, ...): the bare
 * value the message holds for a singular wrapper field, else the wrapper message's `value`.
 */
export function wrapperValue(access: FieldAccess, held: unknown): unknown {
  if (access.unwrapped) {
    const inner = access.field.fieldKind === 'message' ? access.field.message.fields[0] : undefined;
    return inner ? longValue(inner, inner.scalar, held) : held;
  }
  return (held as { value?: unknown }).value;
}

/** A map key as the walk names it: String() of what reflect's map iteration yields for `key`. */
export function mapKeyText(key: string, type: ScalarType): string {
  switch (type) {
    case ScalarType.STRING:
      return key;
    case ScalarType.INT32:
    case ScalarType.FIXED32:
    case ScalarType.UINT32:
    case ScalarType.SFIXED32:
    case ScalarType.SINT32: {
      const n = Number.parseInt(key);
      return Number.isFinite(n) ? String(n) : key;
    }
    case ScalarType.BOOL:
      return key;
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      try {
        return String(protoInt64.uParse(key));
      } catch {
        return key;
      }
    default:
      try {
        return String(protoInt64.parse(key));
      } catch {
        return key;
      }
  }
}

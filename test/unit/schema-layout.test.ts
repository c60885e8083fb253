// src/schema/layout.ts reads decoded messages as @bufbuild/protobuf lays them out (plain objects),
// not through its reflect API: this test holds the two to the same answers over every field of
// every message type of Envoy's schema, decoded from JSON that sets each field (and again with zero
// values, and with each member of each oneof in turn). It fails first when an upgrade of
// @bufbuild/protobuf changes the layout (package.json pins the version for that reason).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { fromJson, ScalarType, type DescField, type DescMessage, type JsonValue, type Message } from '@bufbuild/protobuf';
import { reflect, type ReflectList, type ReflectMap, type ReflectMessage } from '@bufbuild/protobuf/reflect';
import { fieldAccess, isSet, localValue, longValue, mapKeyText, oneofCase, scalarValue, wrapperValue, type Local } from '../../src/schema/layout.js';
import { CUSTOM_JSON } from '../../src/schema/plan.js';
import { loadEnvoySchema } from '../../src/schema/schema.js';

const WKT_JSON: Record<string, [JsonValue, JsonValue]> = {
  'google.protobuf.Duration': ['1.5s', '0s'],
  'google.protobuf.Timestamp': ['2026-01-02T03:04:05Z', '1970-01-01T00:00:00Z'],
  'google.protobuf.FieldMask': ['a.b', ''],
  'google.protobuf.Struct': [{ a: 1, b: ['x'] }, {}],
  'google.protobuf.Value': [{ a: true }, null],
  'google.protobuf.ListValue': [[1, 'x'], []],
  'google.protobuf.Empty': [{}, {}],
  'google.protobuf.Any': [{ '@type': 'type.googleapis.com/google.protobuf.Duration', value: '2s' }, { '@type': 'type.googleapis.com/google.protobuf.Empty', value: {} }],
};

function scalarJson(type: ScalarType, zero: boolean): JsonValue {
  switch (type) {
    case ScalarType.STRING:
      return zero ? '' : 'x';
    case ScalarType.BOOL:
      return !zero;
    case ScalarType.BYTES:
      return zero ? '' : 'eA==';
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return zero ? 0 : 1.5;
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return zero ? '0' : '9007199254740993';
    default:
      return zero ? 0 : 7;
  }
}

const WRAPPED: Record<string, ScalarType> = {
  'google.protobuf.DoubleValue': ScalarType.DOUBLE, 'google.protobuf.FloatValue': ScalarType.FLOAT, 'google.protobuf.Int64Value': ScalarType.INT64,
  'google.protobuf.UInt64Value': ScalarType.UINT64, 'google.protobuf.Int32Value': ScalarType.INT32, 'google.protobuf.UInt32Value': ScalarType.UINT32,
  'google.protobuf.BoolValue': ScalarType.BOOL, 'google.protobuf.StringValue': ScalarType.STRING, 'google.protobuf.BytesValue': ScalarType.BYTES,
};

/** JSON for a message of `desc` that sets every field (the `pick`-th member of each oneof), with zero values when `zero`. */
function sample(desc: DescMessage, zero: boolean, pick: number, depth: number): JsonValue {
  const wkt = WKT_JSON[desc.typeName];
  if (wkt) return wkt[zero ? 1 : 0];
  const wrapped = WRAPPED[desc.typeName];
  if (wrapped !== undefined) return scalarJson(wrapped, zero);
  const json: Record<string, JsonValue> = {};
  for (const field of desc.fields) {
    if (field.oneof && field.oneof.fields[pick % field.oneof.fields.length] !== field) continue;
    const value = fieldJson(field, zero, pick, depth);
    if (value !== undefined) json[pick % 2 === 0 ? field.name : field.jsonName] = value;
  }
  return json;
}

function fieldJson(field: DescField, zero: boolean, pick: number, depth: number): JsonValue | undefined {
  const message = (desc: DescMessage): JsonValue | undefined => (depth < 2 || desc.typeName in WKT_JSON || desc.typeName in WRAPPED ? sample(desc, zero, pick, depth + 1) : undefined);
  const enumName = (values: { name: string }[]): string | undefined => (zero ? values[0] : (values[1] ?? values[0]))?.name;
  switch (field.fieldKind) {
    case 'scalar':
      return scalarJson(field.scalar, zero);
    case 'enum':
      return enumName(field.enum.values);
    case 'message':
      return message(field.message);
    case 'list': {
      if (zero && pick % 2 === 1) return [];
      const item = field.listKind === 'scalar' ? scalarJson(field.scalar, zero) : field.listKind === 'enum' ? enumName(field.enum.values) : message(field.message);
      return item === undefined ? undefined : [item, item];
    }
    case 'map': {
      const key = field.mapKey === ScalarType.STRING ? 'k' : field.mapKey === ScalarType.BOOL ? 'true' : '7';
      const value = field.mapKind === 'scalar' ? scalarJson(field.scalar, zero) : field.mapKind === 'enum' ? enumName(field.enum.values) : message(field.message);
      return value === undefined ? undefined : { [key]: value };
    }
  }
}

// Bytes are compared by content (an unset bytes field reads as a new empty array each time).
const same = (a: unknown, b: unknown): boolean => Object.is(a, b) || (a instanceof Uint8Array && b instanceof Uint8Array && Buffer.compare(a, b) === 0);

/** Compares layout.ts with reflect() on every field of `message`, recursing into set messages. */
function compare(desc: DescMessage, message: Message, where: string, counts: { fields: number }): void {
  if (CUSTOM_JSON.has(desc.typeName)) return;
  const rm = reflect(desc, message);
  const local = message as unknown as Local;
  for (const oneof of desc.oneofs) assert.equal(oneofCase(local, oneof.localName), rm.oneofCase(oneof)?.localName, `${where}: oneof ${oneof.name}`);
  for (const field of desc.fields) {
    counts.fields++;
    const access = fieldAccess(field);
    const at = `${where}.${field.name}`;
    assert.equal(isSet(access, local), rm.isSet(field), `${at}: isSet`);
    switch (field.fieldKind) {
      case 'scalar':
      case 'enum':
        assert.ok(same(scalarValue(access, local), rm.get(field)), `${at}: value`);
        break;
      case 'message': {
        if (!rm.isSet(field)) break;
        const held = localValue(access, local);
        const sub: ReflectMessage = rm.get(field);
        if (field.message.typeName in WRAPPED) assert.ok(same(wrapperValue(access, held), (sub.message as unknown as { value: unknown }).value), `${at}: wrapped value`);
        else if (field.message.typeName !== 'google.protobuf.Struct') assert.equal(held, sub.message, `${at}: the message held`);
        compare(field.message, held as Message, at, counts);
        break;
      }
      case 'list': {
        const items = (localValue(access, local) ?? []) as unknown[];
        const list: ReflectList = rm.get(field);
        const reflected = [...list];
        assert.equal(items.length, reflected.length, `${at}: length`);
        for (const [index, item] of items.entries()) {
          const other = reflected[index];
          if (field.listKind !== 'message') assert.ok(same(longValue(field, field.scalar, item), other), `${at}[${index}]`);
          else if (field.message.typeName in WRAPPED) assert.ok(same(wrapperValue(access, item), ((other as ReflectMessage).message as unknown as { value: unknown }).value), `${at}[${index}]: wrapped value`);
          else if (field.message.typeName !== 'google.protobuf.Struct') {
            assert.equal(item, (other as ReflectMessage).message, `${at}[${index}]: the message held`);
            compare(field.message, item, `${at}[${index}]`, counts);
          }
        }
        break;
      }
      case 'map': {
        const map = (localValue(access, local) ?? {}) as Record<string, unknown>;
        const entries: ReflectMap = rm.get(field);
        const reflected = [...entries];
        assert.deepEqual(Object.keys(map).map((key) => mapKeyText(key, field.mapKey)), reflected.map(([key]) => String(key)), `${at}: keys`);
        for (const [index, key] of Object.keys(map).entries()) {
          const other = reflected[index]?.[1];
          if (field.mapKind === 'message' && field.message.typeName !== 'google.protobuf.Struct') {
            assert.equal(map[key], (other as ReflectMessage).message, `${at}["${key}"]: the message held`);
            compare(field.message, map[key], `${at}["${key}"]`, counts);
          } else if (field.mapKind !== 'message') assert.ok(same(map[key], other), `${at}["${key}"]`);
        }
        break;
      }
    }
  }
}

test("layout.ts reads every field of every message type of Envoy's schema as protobuf-es's reflect API does", () => {
  const schema = loadEnvoySchema();
  const counts = { types: 0, decoded: 0, fields: 0 };
  for (const type of schema.registry) {
    if (type.kind !== 'message') continue;
    counts.types++;
    for (const [zero, pick] of [[false, 0], [true, 1], [false, 1], [true, 2]] as const) {
      let message: Message;
      try {
        message = fromJson(type, sample(type, zero, pick, 0), { registry: schema.registry, ignoreUnknownFields: true });
      } catch {
        continue; // a sample the type refuses (a value out of its range, a recursion): others cover it
      }
      counts.decoded++;
      compare(type, message, type.typeName, counts);
    }
  }
  // Most samples decode: the comparison covered the schema, not a corner of it.
  assert.ok(counts.types > 1500, `message types: ${counts.types}`);
  assert.ok(counts.decoded > counts.types * 3.5, `decoded ${counts.decoded} of ${counts.types * 4} samples`);
  assert.ok(counts.fields > 100_000, `fields compared: ${counts.fields}`);
});

// The checks on one decoded message, walked together with the JSON it came from: PGV rules
// (pgv.ts), fields Envoy ignores (unknown) or warns about (deprecated), recursing into Any.
// Parsing itself is @bufbuild/protobuf's (proto3 JSON); this walk only reads what it decoded.
import { getOption, hasOption, toJson, type DescField, type DescMessage, type Message } from '@bufbuild/protobuf';
import { reflect, type ReflectMessage } from '@bufbuild/protobuf/reflect';
import { anyUnpack, type Any, type Duration } from '@bufbuild/protobuf/wkt';
import type { RawFinding, Segment } from './findings.js';
import { checkDuration, checkNumber, checkString, durationNanos, isNumericKind, ruleKind, type RuleSet } from './pgv.js';
import type { EnvoySchema } from './schema.js';

/** Well-known types with their own JSON form (no fields of their own to walk). */
export const CUSTOM_JSON = new Set([
  'google.protobuf.Any', 'google.protobuf.Duration', 'google.protobuf.Timestamp', 'google.protobuf.FieldMask',
  'google.protobuf.Struct', 'google.protobuf.Value', 'google.protobuf.ListValue', 'google.protobuf.Empty',
  'google.protobuf.DoubleValue', 'google.protobuf.FloatValue', 'google.protobuf.Int64Value', 'google.protobuf.UInt64Value',
  'google.protobuf.Int32Value', 'google.protobuf.UInt32Value', 'google.protobuf.BoolValue', 'google.protobuf.StringValue',
  'google.protobuf.BytesValue',
]);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

export interface WalkContext {
  schema: EnvoySchema;
  findings: RawFinding[];
  /** Unknown fields are errors (a bootstrap, or --strict) instead of warnings. */
  unknownIsError: boolean;
  /** What the walk needs of each message type, read once from its options (they are costly to decode). */
  plans: Map<DescMessage, MessagePlan>;
}

/** A field's rules, read once from its `validate.rules` option. */
export interface FieldPlan {
  field: DescField;
  /** The field's FieldRules as proto3 JSON, or null. */
  rules: RuleSet | null;
  /** The rule kind (`uint32`, `string`, `repeated`, ...) and its rules. */
  kind: { kind: string; rules: RuleSet } | undefined;
  messageRules: RuleSet | undefined;
  /** For a repeated field: the kind of its `items` rules. */
  itemKind: { kind: string; rules: RuleSet } | undefined;
  /** For a map: the kind of its `keys` rules. */
  keyKind: { kind: string; rules: RuleSet } | undefined;
  /** Deprecated: true when also disallowed by default (Envoy refuses it); undefined when not deprecated. */
  deprecated: boolean | undefined;
}

export interface MessagePlan {
  /** Field names and JSON names, each to its field's index in `fields` (desc.fields order). */
  known: Map<string, number>;
  requiredOneofs: DescMessage['oneofs'];
  fields: FieldPlan[];
  /**
   * Indexes of the fields whose rules apply even when the field is not written (a required
   * message, a rule on a scalar's zero value, a minimum of items): the walk visits these and the
   * written ones, in field order; any other field, unwritten, has nothing to check.
   */
  always: number[];
}

function planOf(ctx: WalkContext, desc: DescMessage): MessagePlan {
  let plan = ctx.plans.get(desc);
  if (!plan) {
    const { oneofRequired, disallowedByDefault, rules: rulesOption, fieldRules } = ctx.schema.options;
    const known = new Map<string, number>();
    const fields: FieldPlan[] = [];
    const always: number[] = [];
    for (const [index, field] of desc.fields.entries()) {
      known.set(field.name, index).set(field.jsonName, index);
      const rules = field.proto.options && hasOption(field, rulesOption) ? (toJson(fieldRules, getOption(field, rulesOption) as Message) as RuleSet) : null;
      const kind = rules ? ruleKind(rules) : undefined;
      const items = kind?.kind === 'repeated' ? (kind.rules.items as RuleSet | undefined) : undefined;
      const keys = kind?.kind === 'map' ? (kind.rules.keys as RuleSet | undefined) : undefined;
      const deprecated = field.proto.options?.deprecated === true ? hasOption(field, disallowedByDefault) && Boolean(getOption(field, disallowedByDefault)) : undefined;
      fields.push({ field, rules, kind, messageRules: rules?.message as RuleSet | undefined, itemKind: items ? ruleKind(items) : undefined, keyKind: keys ? ruleKind(keys) : undefined, deprecated });
      if (rules && field.oneof === undefined) always.push(index);
    }
    const requiredOneofs = desc.oneofs.filter((oneof) => hasOption(oneof, oneofRequired) && getOption(oneof, oneofRequired) === true);
    plan = { known, requiredOneofs, fields, always };
    ctx.plans.set(desc, plan);
  }
  return plan;
}

/** The JSON key a field was written with (proto name or lowerCamel JSON name), if present. */
export function writtenKey(json: Record<string, unknown> | undefined, field: DescField): string | undefined {
  if (!json) return undefined;
  if (field.jsonName in json) return field.jsonName;
  if (field.name in json) return field.name;
  return undefined;
}

/** The inner message of a set Any (decoded from its bytes through the registry) and its JSON. */
export function unpackAny(ctx: WalkContext, any: Any, json: unknown): { desc: DescMessage; message: Message; json: Record<string, unknown> | undefined } | undefined {
  const desc = ctx.schema.registry.getMessage(any.typeUrl.slice(any.typeUrl.lastIndexOf('/') + 1));
  const message = desc && anyUnpack(any, ctx.schema.registry);
  if (!desc || !message) return undefined;
  let inner: Record<string, unknown> | undefined;
  if (isObject(json)) {
    if (CUSTOM_JSON.has(desc.typeName)) inner = undefined;
    else {
      const { '@type': _type, ...rest } = json;
      inner = rest;
    }
  }
  return { desc, message, json: inner };
}

export function walkMessage(ctx: WalkContext, desc: DescMessage, message: Message, json: unknown, path: Segment[]): void {
  if (CUSTOM_JSON.has(desc.typeName)) return;
  const record = isObject(json) ? json : undefined;
  const plan = planOf(ctx, desc);
  // The fields to visit: those written (a field fromJson set was written) and those checked unwritten.
  let visit: number[];
  if (record) {
    visit = [...plan.always];
    for (const key of Object.keys(record)) {
      const index = plan.known.get(key);
      if (index !== undefined) {
        visit.push(index);
        continue;
      }
      ctx.findings.push({
        severity: ctx.unknownIsError ? 'error' : 'warning',
        path: [...path, key],
        atKey: true,
        message: ctx.unknownIsError ? `unknown field "${key}" in ${desc.typeName}` : `unknown field "${key}" in ${desc.typeName}: Envoy ignores it (and refuses the file when started with --reject-unknown-dynamic-fields)`,
      });
    }
    visit.sort((a, b) => a - b);
  } else {
    visit = plan.fields.map((_, index) => index);
  }
  const rm = reflect(desc, message);
  for (const oneof of plan.requiredOneofs) {
    if (rm.oneofCase(oneof) === undefined) {
      ctx.findings.push({ severity: 'error', path: [...path], message: `one of ${oneof.fields.map((f) => f.name).join(', ')} is required (${desc.typeName}.${oneof.name})` });
    }
  }
  let previous = -1;
  for (const index of visit) {
    if (index === previous) continue; // written twice (name and JSON name), or written and always checked
    previous = index;
    const fieldPlan = plan.fields[index];
    if (fieldPlan) walkField(ctx, fieldPlan, rm, record, path);
  }
}

/** A rule broken by a field's value: at its key when written, else at the message naming the field. */
function fail(ctx: WalkContext, field: DescField, key: string | undefined, here: Segment[], message: string): void {
  ctx.findings.push({ severity: 'error', path: [...here], message: key === undefined ? `${field.name}: ${message}` : message });
}

// `path` is one array for the whole walk, extended and restored around each step (a finding takes a
// copy): a 1 MiB file has hundreds of thousands of steps and few findings.
function walkField(ctx: WalkContext, plan: FieldPlan, rm: ReflectMessage, json: Record<string, unknown> | undefined, path: Segment[]): void {
  const key = writtenKey(json, plan.field);
  if (key !== undefined) path.push(key);
  walkFieldAt(ctx, plan, rm, json, key, path);
  if (key !== undefined) path.pop();
}

/** The checks of one field; `here` is its path (the message's when the field is not written). */
function walkFieldAt(ctx: WalkContext, plan: FieldPlan, rm: ReflectMessage, json: Record<string, unknown> | undefined, key: string | undefined, here: Segment[]): void {
  const { field, kind, messageRules } = plan;
  const set = rm.isSet(field);
  const fatal = set ? plan.deprecated : undefined;
  if (fatal !== undefined) {
    ctx.findings.push({
      severity: fatal ? 'error' : 'warning',
      path: [...here],
      atKey: key !== undefined,
      message: fatal ? `${field.parent.typeName}.${field.name} is deprecated and disallowed by default: Envoy refuses it` : `${field.parent.typeName}.${field.name} is deprecated: Envoy warns "Using deprecated option"`,
    });
  }
  // PGV checks a oneof member only when it is the case set.
  if (!set && field.oneof !== undefined) return;
  if (messageRules?.required === true && !set) {
    fail(ctx, field, key, here, 'value is required');
    return;
  }
  // PGV checks a proto3 scalar's zero value too, but a message (or an optional scalar) only when set.
  if (!set && (field.fieldKind === 'message' || field.proto.proto3Optional)) return;
  const itemJson = key === undefined ? undefined : json?.[key];
  switch (field.fieldKind) {
    case 'scalar':
    case 'enum': {
      const value: unknown = rm.get(field);
      if (kind) {
        const problem = checkScalar(kind.kind, kind.rules, value, field);
        if (problem) fail(ctx, field, key, here, problem);
      }
      if (field.fieldKind === 'enum') {
        if (set) deprecatedEnumValue(ctx, field, value as number, here);
        unknownEnumName(ctx, field, itemJson, here);
      }
      return;
    }
    case 'message': {
      const sub = rm.get(field);
      if (kind) {
        const problem = checkMessageValue(kind.kind, kind.rules, sub);
        if (problem) fail(ctx, field, key, here, problem);
      }
      if (messageRules?.skip === true) return;
      walkNested(ctx, field.message, sub.message, itemJson, here);
      return;
    }
    case 'list': {
      const list = [...(rm.get(field) as Iterable<unknown>)];
      const listJson = Array.isArray(itemJson) ? itemJson : [];
      if (kind?.kind === 'repeated') {
        const r = kind.rules;
        if (!(r.ignoreEmpty === true && list.length === 0)) {
          if (r.minItems !== undefined && list.length < Number(r.minItems)) fail(ctx, field, key, here, `value must contain at least ${Number(r.minItems)} item(s)`);
          if (r.maxItems !== undefined && list.length > Number(r.maxItems)) fail(ctx, field, key, here, `value must contain no more than ${Number(r.maxItems)} item(s)`);
        }
        const { itemKind } = plan;
        if (itemKind) {
          for (const [index, item] of list.entries()) {
            const problem = field.listKind === 'message' ? checkMessageValue(itemKind.kind, itemKind.rules, item as ReflectMessage) : checkScalar(itemKind.kind, itemKind.rules, item, field);
            if (problem) ctx.findings.push({ severity: 'error', path: [...here, index], message: problem });
          }
        }
      }
      if (field.listKind === 'message') {
        for (const [index, item] of list.entries()) {
          here.push(index);
          walkNested(ctx, field.message, (item as ReflectMessage).message, listJson[index], here);
          here.pop();
        }
      }
      return;
    }
    case 'map': {
      const entries = [...(rm.get(field) as Iterable<[unknown, unknown]>)];
      if (kind?.kind === 'map') {
        const r = kind.rules;
        if (!(r.ignoreEmpty === true && entries.length === 0)) {
          if (r.minPairs !== undefined && entries.length < Number(r.minPairs)) fail(ctx, field, key, here, `value must contain at least ${Number(r.minPairs)} pair(s)`);
          if (r.maxPairs !== undefined && entries.length > Number(r.maxPairs)) fail(ctx, field, key, here, `value must contain no more than ${Number(r.maxPairs)} pair(s)`);
        }
        const { keyKind } = plan;
        if (keyKind) {
          for (const [mapKey] of entries) {
            const problem = keyKind.kind === 'string' ? checkString(String(mapKey), keyKind.rules) : undefined;
            if (problem) ctx.findings.push({ severity: 'error', path: [...here, String(mapKey)], atKey: true, message: `key: ${problem}` });
          }
        }
      }
      if (field.mapKind === 'message') {
        const mapJson = isObject(itemJson) ? itemJson : {};
        for (const [mapKey, value] of entries) {
          here.push(String(mapKey));
          walkNested(ctx, field.message, (value as ReflectMessage).message, mapJson[String(mapKey)], here);
          here.pop();
        }
      }
      return;
    }
  }
}

/** Recurses into a message, unpacking an Any through the registry. */
function walkNested(ctx: WalkContext, desc: DescMessage, message: Message, json: unknown, path: Segment[]): void {
  if (desc.typeName === 'google.protobuf.Any') {
    const inner = unpackAny(ctx, message as Any, json);
    if (inner) walkMessage(ctx, inner.desc, inner.message, inner.json ?? (isObject(json) ? json.value : undefined), path);
    return;
  }
  walkMessage(ctx, desc, message, json, path);
}

/**
 * An enum name the enum does not have: Envoy loads the file and leaves the field at its default
 * (after a strict parse fails, its relaxed parse skips unknown enum names as unknown fields).
 */
function unknownEnumName(ctx: WalkContext, field: DescField, json: unknown, path: Segment[]): void {
  const enumDesc = field.fieldKind === 'enum' ? field.enum : undefined;
  if (!enumDesc || typeof json !== 'string' || enumDesc.values.some((v) => v.name === json)) return;
  ctx.findings.push({
    severity: ctx.unknownIsError ? 'error' : 'warning',
    path: [...path],
    message: `unknown value "${json}" of ${enumDesc.typeName}: Envoy ignores it and keeps the default (values: ${enumDesc.values.map((v) => v.name).join(', ')})`,
  });
}

function deprecatedEnumValue(ctx: WalkContext, field: DescField, value: number, path: Segment[]): void {
  const enumDesc = field.fieldKind === 'enum' ? field.enum : undefined;
  const entry = enumDesc?.values.find((v) => v.number === value);
  if (entry?.proto.options?.deprecated === true) {
    ctx.findings.push({ severity: 'warning', path: [...path], message: `${enumDesc?.typeName}.${entry.name} is deprecated: Envoy warns "Using deprecated option"` });
  }
}

function checkScalar(kind: string, rules: RuleSet, value: unknown, field: DescField): string | undefined {
  if (isNumericKind(kind) && (typeof value === 'number' || typeof value === 'bigint')) return checkNumber(value, rules);
  if (kind === 'string' && typeof value === 'string') return checkString(value, rules);
  if (kind === 'bool' && rules.const !== undefined && value !== rules.const) return `value must equal ${JSON.stringify(rules.const)}`;
  if (kind === 'enum' && typeof value === 'number') {
    const enumDesc = field.fieldKind === 'enum' || (field.fieldKind === 'list' && field.listKind === 'enum') ? field.enum : undefined;
    if (rules.definedOnly === true && enumDesc && !enumDesc.values.some((v) => v.number === value)) return 'value must be one of the defined enum values';
    const names = (list: unknown): number[] => (Array.isArray(list) ? list.map(Number) : []);
    if (Array.isArray(rules.in) && rules.in.length > 0 && !names(rules.in).includes(value)) return `value must be in list ${JSON.stringify(rules.in)}`;
    if (names(rules.notIn).includes(value)) return `value must not be in list ${JSON.stringify(rules.notIn)}`;
  }
  return undefined;
}

const WRAPPED = /^google\.protobuf\.(Double|Float|Int64|UInt64|Int32|UInt32|Bool|String)Value$/;

function checkMessageValue(kind: string, rules: RuleSet, sub: ReflectMessage): string | undefined {
  const typeName = sub.desc.typeName;
  if (kind === 'duration' && typeName === 'google.protobuf.Duration') {
    const d = sub.message as Duration;
    return checkDuration(durationNanos(d.seconds, d.nanos), rules);
  }
  if (kind === 'any' && typeName === 'google.protobuf.Any') {
    const url = (sub.message as Any).typeUrl;
    if (Array.isArray(rules.in) && rules.in.length > 0 && !rules.in.includes(url)) return `type URL must be in list [${rules.in.join(' ')}]`;
    if (Array.isArray(rules.notIn) && rules.notIn.includes(url)) return `type URL must not be in list [${rules.notIn.join(' ')}]`;
    return undefined;
  }
  if (WRAPPED.test(typeName)) {
    const value = (sub.message as unknown as { value: unknown }).value;
    if (isNumericKind(kind) && (typeof value === 'number' || typeof value === 'bigint')) return checkNumber(value, rules);
    if (kind === 'string' && typeof value === 'string') return checkString(value, rules);
  }
  return undefined;
}

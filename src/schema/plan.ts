// What the walk needs of each message type, read once from its descriptor and options (custom
// options are costly to decode): the fields' PGV rules, deprecation, how to read each field of a
// decoded message (layout.ts), and which fields to visit when not written.
import { getOption, hasOption, toJson, type DescEnumValue, type DescField, type DescMessage, type Message } from '@bufbuild/protobuf';
import { fieldAccess, type FieldAccess } from './layout.js';
import { isNumericKind, ruleKind, type RuleSet } from './pgv.js';
import type { EnvoySchema } from './schema.js';

/** Well-known types with their own JSON form (no fields of their own to walk). */
export const CUSTOM_JSON = new Set([
  'google.protobuf.Any', 'google.protobuf.Duration', 'google.protobuf.Timestamp', 'google.protobuf.FieldMask',
  'google.protobuf.Struct', 'google.protobuf.Value', 'google.protobuf.ListValue', 'google.protobuf.Empty',
  'google.protobuf.DoubleValue', 'google.protobuf.FloatValue', 'google.protobuf.Int64Value', 'google.protobuf.UInt64Value',
  'google.protobuf.Int32Value', 'google.protobuf.UInt32Value', 'google.protobuf.BoolValue', 'google.protobuf.StringValue',
  'google.protobuf.BytesValue',
]);

/** A rule kind (`uint32`, `string`, `repeated`, ...) and its rules. */
export interface KindRules {
  kind: string;
  rules: RuleSet;
  /** A numeric kind (int32 ... double). */
  numeric: boolean;
}

function kindRules(rules: RuleSet): KindRules | undefined {
  const found = ruleKind(rules);
  return found && { ...found, numeric: isNumericKind(found.kind) };
}

/** A field's rules, read once from its `validate.rules` option, and how to read its value. */
export interface FieldPlan extends FieldAccess {
  /** The field's FieldRules as proto3 JSON, or null. */
  rules: RuleSet | null;
  kind: KindRules | undefined;
  messageRules: RuleSet | undefined;
  /** For a repeated field: the kind of its `items` rules. */
  itemKind: KindRules | undefined;
  /** For a map: the kind of its `keys` rules. */
  keyKind: KindRules | undefined;
  /** Deprecated: true when also disallowed by default (Envoy refuses it); undefined when not deprecated. */
  deprecated: boolean | undefined;
  /** A proto3 `optional` scalar (checked only when set). */
  optional: boolean;
  /** The message type a message, list or map field holds, or undefined. */
  message: DescMessage | undefined;
  /** That type's plan, once the walk first needed it. */
  nested: MessagePlan | undefined;
  /** For an enum field: its value names, and each number's first value (the name Envoy reports). */
  enumNames: ReadonlySet<string> | undefined;
  enumByNumber: ReadonlyMap<number, DescEnumValue> | undefined;
}

export interface MessagePlan {
  desc: DescMessage;
  /** A well-known type with its own JSON form (CUSTOM_JSON): no fields of its own to walk. */
  custom: boolean;
  /** Field names and JSON names, each to its field's index in `fields` (desc.fields order). */
  known: Map<string, number>;
  /** The oneofs that must be set (validate.required), with their local names. */
  requiredOneofs: { oneof: DescMessage['oneofs'][number]; localName: string }[];
  fields: FieldPlan[];
  /**
   * Indexes of the fields whose rules apply even when the field is not written (a required
   * message, a rule on a scalar's zero value, a minimum of items), ascending: the walk visits these
   * and the written ones, in field order; any other field, unwritten, is unset and has nothing to
   * check (not a oneof member, a message that is not required, an `optional` scalar: see walk.ts).
   */
  always: number[];
  /** Every index, ascending: what the walk visits for a message written as no mapping. */
  every: number[];
}

/** The plans of one schema, by message type. */
export type Plans = Map<DescMessage, MessagePlan>;

function fieldPlan(schema: EnvoySchema, field: DescField): FieldPlan {
  const { disallowedByDefault, rules: rulesOption, fieldRules } = schema.options;
  const rules = field.proto.options && hasOption(field, rulesOption) ? (toJson(fieldRules, getOption(field, rulesOption) as Message) as RuleSet) : null;
  const kind = rules ? kindRules(rules) : undefined;
  const items = kind?.kind === 'repeated' ? (kind.rules.items as RuleSet | undefined) : undefined;
  const keys = kind?.kind === 'map' ? (kind.rules.keys as RuleSet | undefined) : undefined;
  const deprecated = field.proto.options?.deprecated === true ? hasOption(field, disallowedByDefault) && Boolean(getOption(field, disallowedByDefault)) : undefined;
  const enumDesc = field.fieldKind === 'enum' ? field.enum : undefined;
  let enumByNumber: Map<number, DescEnumValue> | undefined;
  if (enumDesc) {
    enumByNumber = new Map();
    for (const value of enumDesc.values) if (!enumByNumber.has(value.number)) enumByNumber.set(value.number, value);
  }
  return {
    ...fieldAccess(field),
    rules,
    kind,
    messageRules: rules?.message as RuleSet | undefined,
    itemKind: items ? kindRules(items) : undefined,
    keyKind: keys ? kindRules(keys) : undefined,
    deprecated,
    optional: field.proto.proto3Optional,
    message: field.fieldKind === 'message' || (field.fieldKind === 'list' && field.listKind === 'message') || (field.fieldKind === 'map' && field.mapKind === 'message') ? field.message : undefined,
    nested: undefined,
    enumNames: enumDesc ? new Set(enumDesc.values.map((v) => v.name)) : undefined,
    enumByNumber,
  };
}

/**
 * Whether the walk can find anything on the field when it is not set: it has rules, and is not a
 * oneof member (checked only when the case set), a message that is not required, or an `optional`
 * scalar (checked only when set). walkFieldAt returns at once for the others.
 */
function checkedUnset(plan: FieldPlan): boolean {
  const { field } = plan;
  if (!plan.rules || field.oneof !== undefined) return false;
  if (plan.messageRules?.required === true) return true;
  return field.fieldKind !== 'message' && !field.proto.proto3Optional;
}

/** The plan of the message type `plan`'s field holds (made on first use, then kept on the field). */
export function nestedPlan(schema: EnvoySchema, plans: Plans, plan: FieldPlan, desc: DescMessage): MessagePlan {
  return (plan.nested ??= planOf(schema, plans, desc));
}

/** The plan of `desc`, made on first use and kept in `plans`. */
export function planOf(schema: EnvoySchema, plans: Plans, desc: DescMessage): MessagePlan {
  let plan = plans.get(desc);
  if (!plan) {
    const { oneofRequired } = schema.options;
    const known = new Map<string, number>();
    const fields: FieldPlan[] = [];
    const always: number[] = [];
    for (const [index, field] of desc.fields.entries()) {
      known.set(field.name, index).set(field.jsonName, index);
      const planned = fieldPlan(schema, field);
      fields.push(planned);
      if (checkedUnset(planned)) always.push(index);
    }
    const requiredOneofs = desc.oneofs.filter((oneof) => hasOption(oneof, oneofRequired) && getOption(oneof, oneofRequired) === true).map((oneof) => ({ oneof, localName: oneof.localName }));
    plan = { desc, custom: CUSTOM_JSON.has(desc.typeName), known, requiredOneofs, fields, always, every: fields.map((_, index) => index) };
    plans.set(desc, plan);
  }
  return plan;
}

// The checks on one decoded message, walked together with the JSON it came from: PGV rules
// (value-checks.ts, pgv.ts), fields Envoy ignores (unknown) or warns about (deprecated), recursing
// into Any. Parsing itself is @bufbuild/protobuf's (proto3 JSON); this walk only reads what it
// decoded, as plain objects (layout.ts), with what it needs of each type read once (plan.ts).
import type { DescMessage, Message } from '@bufbuild/protobuf';
import { anyUnpack, type Any } from '@bufbuild/protobuf/wkt';
import type { RawFinding, Segment } from './findings.js';
import { isSet, localValue, longValue, mapKeyText, oneofCase, scalarValue, type Local } from './layout.js';
import { checkString } from './pgv.js';
import { CUSTOM_JSON, nestedPlan, planOf, type FieldPlan, type MessagePlan, type Plans } from './plan.js';
import type { EnvoySchema } from './schema.js';
import { checkMessageValue, checkScalar, deprecatedEnumValue, unknownEnumName } from './value-checks.js';

export { CUSTOM_JSON } from './plan.js';

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

export interface WalkContext {
  schema: EnvoySchema;
  findings: RawFinding[];
  /** Unknown fields and enum names are errors (a bootstrap, or --strict) instead of warnings. */
  unknownIsError: boolean;
  /** Said after such an error, why Envoy refuses it (`validate --strict`: the Envoy flag that does). */
  unknownRefusal?: string;
  /** What the walk needs of each message type, read once (shared by every check of a schema). */
  plans: Plans;
  /** The written fields of the messages being walked (walkPlanned): one stack for the whole walk. */
  written: WrittenStack;
}

/**
 * The fields written in each message on the walk's current path, as (field index, written key)
 * pairs, each message's pairs in field order above those of the message that holds it. One pair of
 * arrays reused by every message of a file (`top` moves; the arrays never shrink), instead of two
 * new arrays per message: a 1 MiB file has tens of thousands of messages, and the walk allocated
 * more than the rest of the check besides parsing.
 */
export interface WrittenStack {
  indexes: number[];
  keys: string[];
  top: number;
}

export const writtenStack = (): WrittenStack => ({ indexes: [], keys: [], top: 0 });

/** The JSON key a field was written with (proto name or lowerCamel JSON name), if present. */
export function writtenKey(json: Record<string, unknown> | undefined, field: { name: string; jsonName: string }): string | undefined {
  if (!json) return undefined;
  if (field.jsonName in json) return field.jsonName;
  if (field.name in json) return field.name;
  return undefined;
}

/**
 * The inner message of a set Any (decoded from its bytes through the registry) and its JSON: the
 * Any's own mapping (`typed`: its "@type" key is the Any's, skipped by the walk, rather than a copy
 * without it), or undefined for a type with its own JSON form (its JSON is the Any's `value`).
 */
export function unpackAny(ctx: WalkContext, any: Any, json: unknown): { desc: DescMessage; message: Message; json: Record<string, unknown> | undefined } | undefined {
  const desc = ctx.schema.registry.getMessage(any.typeUrl.slice(any.typeUrl.lastIndexOf('/') + 1));
  const message = desc && anyUnpack(any, ctx.schema.registry);
  if (!desc || !message) return undefined;
  return { desc, message, json: isObject(json) && !CUSTOM_JSON.has(desc.typeName) ? json : undefined };
}

const NO_ITEMS: readonly unknown[] = [];
const NO_PAIRS: Readonly<Record<string, unknown>> = {};

/**
 * Walks `message` (decoded from `json` as `desc`). `typed`: `json` is an Any written inline, whose
 * "@type" key names the type rather than a field (fromJson skips it as an unknown key; so does the walk).
 */
export function walkMessage(ctx: WalkContext, desc: DescMessage, message: Message, json: unknown, path: Segment[], typed = false): void {
  walkPlanned(ctx, planOf(ctx.schema, ctx.plans, desc), message, json, path, typed);
}

function walkPlanned(ctx: WalkContext, plan: MessagePlan, message: Local, json: unknown, path: Segment[], typed = false): void {
  if (plan.custom) return;
  const record = isObject(json) ? json : undefined;
  // The fields to visit, in field order: those written (a field fromJson set was written), with the
  // key they were written with, kept sorted on the stack from `base` up, and those checked unwritten
  // (plan.always, ascending); every field when the message was not a mapping.
  const stack = ctx.written;
  const { indexes, keys } = stack;
  const base = stack.top;
  let always = plan.always;
  if (record) {
    for (const key in record) {
      if (!Object.prototype.hasOwnProperty.call(record, key)) continue; // own keys only, as Object.keys
      if (typed && key === '@type') continue;
      const index = plan.known.get(key);
      if (index !== undefined) {
        // Insertion in field order (a message sets a handful of fields).
        let at = stack.top++;
        for (; at > base && (indexes[at - 1] ?? 0) > index; at--) {
          indexes[at] = indexes[at - 1] ?? 0;
          keys[at] = keys[at - 1] ?? '';
        }
        indexes[at] = index;
        keys[at] = key;
        continue;
      }
      ctx.findings.push({
        severity: ctx.unknownIsError ? 'error' : 'warning',
        path: [...path, key],
        atKey: true,
        message: ctx.unknownIsError ? `unknown field "${key}" in ${plan.desc.typeName}${ctx.unknownRefusal ?? ''}` : `unknown field "${key}" in ${plan.desc.typeName}: Envoy ignores it (and refuses the file when started with --reject-unknown-dynamic-fields)`,
      });
    }
  } else {
    always = plan.every;
  }
  const end = stack.top;
  for (const { oneof, localName } of plan.requiredOneofs) {
    if (oneofCase(message, localName) === undefined) {
      ctx.findings.push({ severity: 'error', path: [...path], message: `one of ${oneof.fields.map((f) => f.name).join(', ')} is required (${plan.desc.typeName}.${oneof.name})` });
    }
  }
  // Merge the two ascending lists, each index once. The walk below a field pushes its own pairs
  // above `end` and leaves `top` back at `end`.
  let a = 0;
  let w = base;
  let previous = -1;
  while (a < always.length || w < end) {
    const fromAlways = always[a];
    const fromWritten = w < end ? indexes[w] : undefined;
    let index: number;
    let key: string | undefined;
    if (fromWritten === undefined || (fromAlways !== undefined && fromAlways < fromWritten)) {
      index = fromAlways ?? -1;
      a++;
    } else {
      index = fromWritten;
      key = keys[w];
      // Written twice (by name and JSON name; fromJson refuses that, so only in principle): the JSON name wins.
      if ((w + 1 < end && indexes[w + 1] === index) || (w > base && indexes[w - 1] === index)) key = writtenKey(record, plan.fields[index]?.field ?? { name: '', jsonName: '' });
      w++;
    }
    if (index === previous) continue;
    previous = index;
    const fieldPlan = plan.fields[index];
    if (!fieldPlan) continue;
    // `path` is one array for the whole walk, extended and restored around each step (a finding
    // takes a copy): a 1 MiB file has hundreds of thousands of steps and few findings.
    if (key !== undefined) path.push(key);
    walkFieldAt(ctx, fieldPlan, message, record, key, path);
    if (key !== undefined) path.pop();
  }
  stack.top = base;
}

/** A rule broken by a field's value: at its key when written, else at the message naming the field. */
function fail(ctx: WalkContext, plan: FieldPlan, key: string | undefined, here: Segment[], message: string): void {
  ctx.findings.push({ severity: 'error', path: [...here], message: key === undefined ? `${plan.field.name}: ${message}` : message });
}

/** The checks of one field; `here` is its path (the message's when the field is not written). */
function walkFieldAt(ctx: WalkContext, plan: FieldPlan, message: Local, json: Record<string, unknown> | undefined, key: string | undefined, here: Segment[]): void {
  const { field, kind, messageRules } = plan;
  const set = isSet(plan, message);
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
  if (!set && plan.oneofName !== undefined) return;
  if (messageRules?.required === true && !set) {
    fail(ctx, plan, key, here, 'value is required');
    return;
  }
  // PGV checks a proto3 scalar's zero value too, but a message (or an optional scalar) only when set.
  if (!set && (field.fieldKind === 'message' || plan.optional)) return;
  const itemJson = key === undefined ? undefined : json?.[key];
  switch (field.fieldKind) {
    case 'scalar':
    case 'enum': {
      const value = scalarValue(plan, message);
      if (kind) {
        const problem = checkScalar(kind, value, plan);
        if (problem) fail(ctx, plan, key, here, problem);
      }
      if (field.fieldKind === 'enum') {
        if (set) deprecatedEnumValue(ctx.findings, plan, value as number, here);
        unknownEnumName(ctx.findings, ctx.unknownIsError ? (ctx.unknownRefusal ?? '') : undefined, plan, itemJson, here);
      }
      return;
    }
    case 'message': {
      const held = localValue(plan, message);
      if (kind) {
        const problem = checkMessageValue(kind, field.message.typeName, held, plan);
        if (problem) fail(ctx, plan, key, here, problem);
      }
      if (messageRules?.skip === true) return;
      walkNested(ctx, plan, field.message, held, itemJson, here);
      return;
    }
    case 'list': {
      const list = (localValue(plan, message) ?? NO_ITEMS) as unknown[];
      const listJson = Array.isArray(itemJson) ? itemJson : NO_ITEMS;
      if (kind?.kind === 'repeated') {
        const r = kind.rules;
        if (!(r.ignoreEmpty === true && list.length === 0)) {
          if (r.minItems !== undefined && list.length < Number(r.minItems)) fail(ctx, plan, key, here, `value must contain at least ${Number(r.minItems)} item(s)`);
          if (r.maxItems !== undefined && list.length > Number(r.maxItems)) fail(ctx, plan, key, here, `value must contain no more than ${Number(r.maxItems)} item(s)`);
        }
        const { itemKind } = plan;
        if (itemKind) {
          for (let index = 0; index < list.length; index++) {
            const item = list[index];
            const problem = field.listKind === 'message' ? checkMessageValue(itemKind, field.message.typeName, item, plan) : checkScalar(itemKind, longValue(field, field.scalar, item), plan);
            if (problem) ctx.findings.push({ severity: 'error', path: [...here, index], message: problem });
          }
        }
      }
      if (field.listKind === 'message') {
        for (let index = 0; index < list.length; index++) {
          here.push(index);
          walkNested(ctx, plan, field.message, list[index], listJson[index], here);
          here.pop();
        }
      }
      return;
    }
    case 'map': {
      const map = (localValue(plan, message) ?? NO_PAIRS) as Record<string, unknown>;
      const keys = Object.keys(map);
      if (kind?.kind === 'map') {
        const r = kind.rules;
        if (!(r.ignoreEmpty === true && keys.length === 0)) {
          if (r.minPairs !== undefined && keys.length < Number(r.minPairs)) fail(ctx, plan, key, here, `value must contain at least ${Number(r.minPairs)} pair(s)`);
          if (r.maxPairs !== undefined && keys.length > Number(r.maxPairs)) fail(ctx, plan, key, here, `value must contain no more than ${Number(r.maxPairs)} pair(s)`);
        }
        const { keyKind } = plan;
        if (keyKind) {
          for (const mapKey of keys) {
            const text = mapKeyText(mapKey, field.mapKey);
            const problem = keyKind.kind === 'string' ? checkString(text, keyKind.rules) : undefined;
            if (problem) ctx.findings.push({ severity: 'error', path: [...here, text], atKey: true, message: `key: ${problem}` });
          }
        }
      }
      if (field.mapKind === 'message') {
        const mapJson = isObject(itemJson) ? itemJson : NO_PAIRS;
        for (const mapKey of keys) {
          const text = mapKeyText(mapKey, field.mapKey);
          here.push(text);
          walkNested(ctx, plan, field.message, map[mapKey], mapJson[text], here);
          here.pop();
        }
      }
      return;
    }
  }
}

/** Recurses into a message held by `plan`'s field (see layout.ts), unpacking an Any through the registry. */
function walkNested(ctx: WalkContext, plan: FieldPlan, desc: DescMessage, held: unknown, json: unknown, path: Segment[]): void {
  if (desc.typeName === 'google.protobuf.Any') {
    const inner = unpackAny(ctx, held as Any, json);
    if (inner) walkMessage(ctx, inner.desc, inner.message, inner.json ?? (isObject(json) ? json.value : undefined), path, inner.json !== undefined);
    return;
  }
  // Wrappers (held bare) and Struct (held as JSON) have their own JSON form: custom plans, not walked.
  walkPlanned(ctx, nestedPlan(ctx.schema, ctx.plans, plan, desc), held as Local, json, path);
}
